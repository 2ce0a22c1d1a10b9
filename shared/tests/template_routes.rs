//! Each function's API Gateway routes in template.yaml are exactly the routes its group serves
//! (`http::route_list`), so a route added to the table is never left unreachable on AWS.

use std::collections::BTreeSet;

use holdpoint::http::{Routes, route_list};
use serde_yaml_ng::Value;

fn events_of(template: &Value, function: &str) -> BTreeSet<(String, String)> {
    let events = &template["Resources"][function]["Properties"]["Events"];
    let Value::Mapping(events) = events else {
        panic!("{function} has no events");
    };
    events
        .values()
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| {
            let p = &e["Properties"];
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            (text("Method"), text("Path"))
        })
        .collect()
}

#[test]
fn every_served_route_is_routed_to_its_function() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let template: Value = serde_yaml_ng::from_str(&text).unwrap();
    for (function, group) in [
        ("CreateFunction", Routes::Create),
        ("ReadFunction", Routes::Read),
        ("DecideFunction", Routes::Decide),
    ] {
        let routed = events_of(&template, function);
        let served: BTreeSet<(String, String)> = route_list(&[group])
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_owned()))
            .filter(|(_, p)| p != "/health" || routed.iter().any(|(_, r)| r == "/health"))
            .collect();
        assert_eq!(
            served.difference(&routed).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "{function}: served but not routed by API Gateway"
        );
        assert_eq!(
            routed.difference(&served).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "{function}: routed by API Gateway but not served"
        );
    }
}
