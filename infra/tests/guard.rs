//! The cfn-guard rules pass template.yaml, and each fails on a template that breaks it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cfn_guard() -> PathBuf {
    let path = std::env::var_os("CFN_GUARD")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/bin/cfn-guard"));
    assert!(
        path.exists(),
        "cfn-guard not found at {} (infra/test.sh installs it)",
        path.display()
    );
    path
}

/// Runs the rules on `template`; `(passed, output)`.
fn validate(template: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("template.yaml");
    std::fs::write(&file, template).unwrap();
    let out = Command::new(cfn_guard())
        .args(["validate", "-r"])
        .arg(root().join("infra/guard"))
        .arg("-d")
        .arg(&file)
        .args(["--show-summary", "fail"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn template() -> String {
    std::fs::read_to_string(root().join("template.yaml")).unwrap()
}

/// `template` with the first `old` after `marker` replaced by `new`.
fn edit_after(marker: &str, old: &str, new: &str) -> String {
    let t = template();
    let at = t.find(marker).unwrap_or_else(|| panic!("no {marker:?}"));
    let rel = t[at..]
        .find(old)
        .unwrap_or_else(|| panic!("no {old:?} after {marker:?}"));
    format!("{}{}{}", &t[..at + rel], new, &t[at + rel + old.len()..])
}

fn fails(template: String, rule: &str) {
    let (passed, output) = validate(&template);
    assert!(
        !passed,
        "the rules let through a template breaking {rule}:\n{output}"
    );
    assert!(
        output.contains(rule),
        "{rule} is not what failed:\n{output}"
    );
}

#[test]
fn the_template_passes() {
    let (passed, output) = validate(&template());
    assert!(passed, "{output}");
}

#[test]
fn every_rule_fails_on_a_template_that_breaks_it() {
    let key = "\n  CheckpointKey:\n";
    fails(
        edit_after(key, "KeySpec: ECC_NIST_P256", "KeySpec: RSA_2048"),
        "checkpoint_key_signs_p256",
    );
    fails(
        edit_after(key, "KeyUsage: SIGN_VERIFY", "KeyUsage: ENCRYPT_DECRYPT"),
        "checkpoint_key_signs_p256",
    );
    fails(
        edit_after(key, "DeletionPolicy: Retain", "DeletionPolicy: Delete"),
        "checkpoint_key_signs_p256",
    );
    fails(
        edit_after(
            "\n  ReadFunction:",
            "Action: [kms:GetPublicKey]",
            "Action: [kms:GetPublicKey, kms:Sign]",
        ),
        "only_the_sweep_signs",
    );
    fails(
        edit_after(
            "\n  DecideFunction:",
            "      Policies:\n        - Statement:\n",
            "      Policies:\n        - Statement:\n            - {Effect: Allow, Action: [\"kms:*\"], Resource: \"*\"}\n",
        ),
        "only_the_sweep_signs",
    );
    fails(
        edit_after(
            "\n  EscalateFunction:",
            "Resource: !GetAtt CheckpointKey.Arn",
            "Resource: \"*\"",
        ),
        "only_the_sweep_signs",
    );
    let audit = "\n  AuditTable:\n";
    fails(
        edit_after(
            audit,
            "DeletionProtectionEnabled: true",
            "DeletionProtectionEnabled: false",
        ),
        "audit_table_is_protected",
    );
    fails(
        edit_after(
            audit,
            "PointInTimeRecoveryEnabled: true",
            "PointInTimeRecoveryEnabled: false",
        ),
        "audit_table_is_protected",
    );
    fails(
        edit_after(audit, "                - dynamodb:DeleteItem\n", ""),
        "audit_table_policy_denies_rewrites",
    );
    fails(
        edit_after(
            audit,
            "              Effect: Deny",
            "              Effect: Allow",
        ),
        "audit_table_policy_denies_rewrites",
    );
    fails(
        edit_after(audit, "  AuditTable:\n", "  AuditLog:\n"),
        "audit_table_exists",
    );
    fails(
        edit_after(
            "\n  DecideFunction:",
            "Action: [dynamodb:PutItem, dynamodb:Query]",
            "Action: [dynamodb:PutItem, dynamodb:Query, dynamodb:UpdateItem]",
        ),
        "functions_grant_no_rewrites",
    );
    fails(
        edit_after(
            "\n  DecideFunction:",
            "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]",
            "Action: dynamodb:UpdateItem",
        ),
        "functions_grant_no_rewrites",
    );
    fails(
        edit_after(
            "\n  EscalateFunction:",
            "Action: [dynamodb:PutItem, dynamodb:Query]",
            "Action: [\"dynamodb:*\"]",
        ),
        "functions_grant_no_rewrites",
    );
    fails(
        edit_after(
            "\n  CreateFunction:",
            "      Policies:\n",
            "      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref AuditTable}\n",
        ),
        "functions_grant_no_rewrites",
    );
    fails(
        edit_after(
            "\n  ReadFunction:",
            "      Policies:\n",
            "      Policies:\n        - AmazonDynamoDBFullAccess\n",
        ),
        "functions_grant_no_rewrites",
    );
    let extra_role = "\n  Janitor:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n      Policies:\n        - PolicyName: cleanup\n          PolicyDocument:\n            Statement:\n              - Effect: Allow\n                Action: [dynamodb:DeleteItem]\n                Resource: !GetAtt AuditTable.Arn\n";
    fails(
        edit_after(
            "\nResources:\n",
            "\nResources:\n",
            &format!("\nResources:\n{extra_role}"),
        ),
        "roles_grant_no_rewrites",
    );
    let extra_policy = "\n  Cleanup:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Action: [dynamodb:BatchWriteItem]\n            Resource: !GetAtt AuditTable.Arn\n";
    fails(
        edit_after(
            "\nResources:\n",
            "\nResources:\n",
            &format!("\nResources:\n{extra_policy}"),
        ),
        "policies_grant_no_rewrites",
    );
}
