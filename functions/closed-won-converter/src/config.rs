//! The converter's configuration, read once at cold start.

use handoff_runtime::webhook_auth::WebhookSecret;
use handoff_runtime::EnvReader;

/// HubSpot's closed-won stage in the default pipeline.
pub const HUBSPOT_DEFAULT_CLOSED_WON_STAGE: &str = "closedwon";

/// Webhook credentials and routing choices.
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// `POST /webhooks/crm` HMAC secrets; several during a rotation.
    pub crm_secrets: Vec<WebhookSecret>,
    pub hubspot_client_secret: Option<WebhookSecret>,
    /// Closed-won stage ids (custom pipelines use numeric or UUID ids).
    pub hubspot_closed_won_stages: Vec<String>,
    /// The URL HubSpot calls, e.g. `https://api.example.com`, when a proxy or custom
    /// domain sits in front of the API (the signature covers the full URI as called).
    pub public_base_url: Option<String>,
    pub pipedrive_user: String,
    pub pipedrive_password: Option<WebhookSecret>,
    pub salesforce_organization_id: Option<String>,
    pub salesforce_path_token: Option<WebhookSecret>,
}

fn secret(env: &EnvReader, name: &str) -> Option<WebhookSecret> {
    env.optional(name).and_then(|v| WebhookSecret::new(v).ok())
}

impl WebhookConfig {
    /// Reads the webhook settings. Secrets come from these variables when set directly
    /// (local runs); in Lambda the function fills them from Secrets Manager first.
    pub fn read(env: &mut EnvReader) -> WebhookConfig {
        let crm_secrets: Vec<WebhookSecret> = env
            .required("CRM_WEBHOOK_SECRETS")
            .split(',')
            .filter_map(|s| WebhookSecret::new(s.trim().to_owned()).ok())
            .collect();
        let stages = env
            .optional("HUBSPOT_CLOSED_WON_STAGES")
            .map(|s| {
                s.split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect()
            })
            .unwrap_or_else(|| vec![HUBSPOT_DEFAULT_CLOSED_WON_STAGE.to_owned()]);
        WebhookConfig {
            crm_secrets,
            hubspot_client_secret: secret(env, "HUBSPOT_CLIENT_SECRET"),
            hubspot_closed_won_stages: stages,
            public_base_url: env.optional("PUBLIC_BASE_URL"),
            pipedrive_user: env
                .optional("PIPEDRIVE_WEBHOOK_USER")
                .unwrap_or_else(|| "handoff".into()),
            pipedrive_password: secret(env, "PIPEDRIVE_WEBHOOK_PASSWORD"),
            salesforce_organization_id: env.optional("SALESFORCE_ORGANIZATION_ID"),
            salesforce_path_token: secret(env, "SALESFORCE_PATH_TOKEN"),
        }
    }
}

/// Where the CRM APIs are and how to call them.
#[derive(Debug, Clone, Default)]
pub struct CrmConfig {
    pub hubspot_api_base_url: String,
    pub hubspot_access_token: Option<WebhookSecret>,
    /// The line item property that holds the catalog SKU.
    pub hubspot_sku_property: String,
    pub pipedrive_api_base_url: String,
    pub pipedrive_api_token: Option<WebhookSecret>,
}

impl CrmConfig {
    pub fn read(env: &mut EnvReader) -> CrmConfig {
        CrmConfig {
            hubspot_api_base_url: env
                .optional("HUBSPOT_API_BASE_URL")
                .unwrap_or_else(|| "https://api.hubapi.com".into()),
            hubspot_access_token: secret(env, "HUBSPOT_ACCESS_TOKEN"),
            hubspot_sku_property: env
                .optional("HUBSPOT_SKU_PROPERTY")
                .unwrap_or_else(|| "hs_sku".into()),
            pipedrive_api_base_url: env
                .optional("PIPEDRIVE_API_BASE_URL")
                .unwrap_or_else(|| "https://api.pipedrive.com".into()),
            pipedrive_api_token: secret(env, "PIPEDRIVE_API_TOKEN"),
        }
    }
}
