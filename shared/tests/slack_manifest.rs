//! The Slack app manifest the README points to asks for what Holdpoint uses and no more, and
//! sends clicks to the route that takes them, where it is routed outside IAM.

use serde_yaml_ng::Value;

fn yaml(path: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

#[test]
fn the_manifest_asks_for_two_scopes_and_points_clicks_at_the_interaction_route() {
    let manifest = yaml("docs/slack-app-manifest.yaml");
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["chat:write", "im:write"]);
    assert!(manifest["oauth_config"]["scopes"]["user"].is_null());
    let interactivity = &manifest["settings"]["interactivity"];
    assert_eq!(interactivity["is_enabled"], Value::Bool(true));
    let url = url::Url::parse(interactivity["request_url"].as_str().unwrap()).unwrap();
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.path(), "/slack/interactions");
    assert!(url.query_pairs().any(|(k, _)| k == "tenant"), "{url}");
    assert_eq!(
        manifest["features"]["app_home"]["messages_tab_enabled"],
        Value::Bool(true)
    );

    let template = yaml("template.yaml");
    let route = &template["Resources"]["DecideFunction"]["Properties"]["Events"]["SlackInteractions"]
        ["Properties"];
    assert_eq!(route["Path"].as_str(), Some("/slack/interactions"));
    assert_eq!(route["Method"].as_str(), Some("POST"));
    assert_eq!(route["Auth"]["Authorizer"].as_str(), Some("NONE"));
}
