//! Webhook and CRM credentials from Secrets Manager, read once at cold start.

use crate::errors::describe;
use std::collections::BTreeMap;

/// The secret's JSON keys (as `template.yaml` writes them) → the environment variables
/// the functions' configuration reads.
pub const SECRET_KEYS: &[(&str, &str)] = &[
    ("crm_webhook_secret", "CRM_WEBHOOK_SECRETS"),
    ("hubspot_client_secret", "HUBSPOT_CLIENT_SECRET"),
    ("hubspot_access_token", "HUBSPOT_ACCESS_TOKEN"),
    ("pipedrive_api_token", "PIPEDRIVE_API_TOKEN"),
    ("salesforce_organization_id", "SALESFORCE_ORGANIZATION_ID"),
    ("salesforce_path_token", "SALESFORCE_PATH_TOKEN"),
];

#[derive(Debug, thiserror::Error)]
#[error("webhook secrets: {0}")]
pub struct SecretsError(String);

/// Reads the secret and returns `(variable, value)` pairs; `pipedrive_basic_auth`
/// (`user:password`) becomes `PIPEDRIVE_WEBHOOK_USER` and `PIPEDRIVE_WEBHOOK_PASSWORD`.
pub async fn webhook_env(
    config: &aws_config::SdkConfig,
    arn: &str,
) -> Result<Vec<(String, String)>, SecretsError> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretsError(describe(&e)))?;
    let text = output
        .secret_string
        .ok_or_else(|| SecretsError("the secret has no string value".into()))?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Vec<(String, String)>, SecretsError> {
    let values: BTreeMap<String, String> = serde_json::from_str(text)
        .map_err(|_| SecretsError("the secret is not a JSON object of strings".into()))?;
    let mut env: Vec<(String, String)> = SECRET_KEYS
        .iter()
        .filter_map(|(key, var)| {
            values
                .get(*key)
                .filter(|v| !v.is_empty())
                .map(|v| ((*var).to_owned(), v.clone()))
        })
        .collect();
    if let Some((user, password)) = values
        .get("pipedrive_basic_auth")
        .and_then(|v| v.split_once(':'))
    {
        env.push(("PIPEDRIVE_WEBHOOK_USER".into(), user.to_owned()));
        env.push(("PIPEDRIVE_WEBHOOK_PASSWORD".into(), password.to_owned()));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    #[test]
    fn maps_secret_keys_to_variables() {
        let env = super::parse(
            r#"{"crm_webhook_secret": "a,b", "pipedrive_basic_auth": "handoff:pw", "unused": "x"}"#,
        )
        .unwrap();
        assert!(env.contains(&("CRM_WEBHOOK_SECRETS".into(), "a,b".into())));
        assert!(env.contains(&("PIPEDRIVE_WEBHOOK_USER".into(), "handoff".into())));
        assert!(env.contains(&("PIPEDRIVE_WEBHOOK_PASSWORD".into(), "pw".into())));
        assert_eq!(env.len(), 3);
        assert!(super::parse("[1]").is_err());
    }
}
