//! The CloudWatch dashboard of template.yaml names only metrics the functions emit, so a renamed
//! metric cannot leave an empty graph behind.

use holdpoint::metrics;

#[test]
fn the_dashboard_graphs_what_the_functions_measure() {
    let template = include_str!("../../template.yaml");
    let start = template.find("ApprovalsDashboard:").expect("the dashboard");
    let dashboard = &template[start..template[start..].find("\nOutputs:").unwrap() + start];
    let named: Vec<&str> = dashboard
        .split("[\"Holdpoint\", \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let emitted = [
        metrics::REQUESTED,
        metrics::DECIDED,
        metrics::EXPIRED,
        metrics::TIME_TO_DECISION,
    ];
    assert!(named.len() >= 6, "{named:?}");
    for name in &named {
        assert!(
            emitted.contains(name),
            "{name} is not a metric Holdpoint emits"
        );
    }
    for name in emitted {
        assert!(named.contains(&name), "{name} is not on the dashboard");
    }
}
