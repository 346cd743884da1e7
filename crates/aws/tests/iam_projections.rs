//! Each read the adapter projects stays within what its role's IAM policy
//! allows (`dynamodb:Attributes` in infra/template.yaml). moto does not
//! enforce IAM, so without this a projection that names one attribute too
//! many would pass every emulator test and be refused by DynamoDB.

use tessera_aws::projections::{
    DELETE_ATTRIBUTES, DESCRIBE_ATTRIBUTES, IMPORT_ATTRIBUTES, REWRAP_SCAN_ATTRIBUTES,
    VERIFY_SCAN_ATTRIBUTES,
};

/// The `dynamodb:Attributes` list of the policy statement `sid`.
fn allowed(template: &str, sid: &str) -> Vec<String> {
    let start = template
        .find(&format!("- Sid: {sid}\n"))
        .unwrap_or_else(|| panic!("statement {sid} not in the template"));
    let body = &template[start + 1..];
    let body = &body[..body.find("- Sid:").unwrap_or(body.len())];
    let line = body
        .lines()
        .find(|l| l.trim_start().starts_with("dynamodb:Attributes: ["))
        .unwrap_or_else(|| panic!("{sid} has no dynamodb:Attributes list"));
    let list = line.split_once('[').and_then(|(_, r)| r.split_once(']'));
    list.map(|(l, _)| l.split(',').map(|a| a.trim().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn every_projection_is_within_its_roles_attribute_grant() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/template.yaml"
    ))
    .expect("infra/template.yaml");
    for (sid, projection) in [
        ("DescribeRecordsWithoutSecrets", DESCRIBE_ATTRIBUTES),
        ("ReadRecordKeys", DELETE_ATTRIBUTES),
        ("ImportFindsIndexItemsAndRecords", IMPORT_ATTRIBUTES),
        ("RewrapScansWrappedKeys", REWRAP_SCAN_ATTRIBUTES),
        ("VerifyScansWhatItCompares", VERIFY_SCAN_ATTRIBUTES),
    ] {
        let grant = allowed(&template, sid);
        for attribute in projection {
            assert!(
                grant.iter().any(|g| g == attribute),
                "{sid} does not allow `{attribute}`: {grant:?}"
            );
        }
    }
}

#[test]
fn no_role_that_holds_the_fingerprint_key_projects_what_narrows_a_pan() {
    // Import holds the key: with a record's fp (or BIN and last 4) an fpe
    // token falls to about 10^5 HMACs offline.
    for attribute in ["fp", "bin", "last4", "ct", "dk"] {
        assert!(!IMPORT_ATTRIBUTES.contains(&attribute), "{attribute}");
    }
    for attribute in ["ct", "bin", "last4", "fp"] {
        assert!(!REWRAP_SCAN_ATTRIBUTES.contains(&attribute), "{attribute}");
    }
    for attribute in ["ct", "dk", "bin", "last4"] {
        assert!(!VERIFY_SCAN_ATTRIBUTES.contains(&attribute), "{attribute}");
    }
}
