//! The base review links start from.

use super::BaseUrl;

#[test]
fn a_learned_base_is_the_first_host_name_and_never_changes() {
    let base = BaseUrl::learned();
    assert_eq!(base.get(), None);
    base.learn("evil.example/path");
    base.learn("");
    assert_eq!(base.get(), None, "only a host name is learned");
    base.learn("Abc123.execute-api.us-east-1.amazonaws.com");
    base.learn("other.example");
    assert_eq!(
        base.get(),
        Some("https://abc123.execute-api.us-east-1.amazonaws.com")
    );
    let fixed = BaseUrl::fixed("https://approvals.example.com/");
    fixed.learn("other.example");
    assert_eq!(fixed.get(), Some("https://approvals.example.com"));
}
