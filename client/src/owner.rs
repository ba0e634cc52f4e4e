//! The owner API: what an account's owner (or an API token of theirs) may call.

use crate::{data, expect, send, Client, Error};
use model::{Agent, Campaign, Run};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

/// A created (or claimed) run and the token its runner reports with.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCreated {
    pub run: Run,
    /// Bearer token of the run's runner callbacks.
    pub runner_token: String,
}

/// A page of the account's campaigns.
#[derive(Clone, Debug, Deserialize)]
pub struct CampaignPage {
    pub campaigns: Vec<Campaign>,
    /// Campaigns in all pages.
    pub total: u64,
}

#[derive(Deserialize)]
struct AgentList {
    agents: Vec<Agent>,
}

/// The owner API, called with one owner credential.
pub struct Owner<'a> {
    client: &'a Client,
    token: String,
}

impl<'a> Owner<'a> {
    pub(crate) fn new(client: &'a Client, token: String) -> Owner<'a> {
        Owner { client, token }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Error> {
        let mut request = self
            .client
            .http
            .request(method, self.client.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        send(request).await
    }

    /// `GET /api/agents`: the account's agents.
    pub async fn agents(&self) -> Result<Vec<Agent>, Error> {
        let body = expect(self.call(Method::GET, "/api/agents", None).await?, 200)?;
        Ok(data::<AgentList>(body)?.agents)
    }

    /// `PUT /api/agents/<slug>`: registers an agent or changes it (`name`,
    /// `description`, `dispatchUrl`; an empty `dispatchUrl` clears it).
    pub async fn put_agent(&self, slug: &str, update: &Value) -> Result<(), Error> {
        let path = format!("/api/agents/{slug}");
        expect(self.call(Method::PUT, &path, Some(update)).await?, 200).map(drop)
    }

    /// `GET /api/campaigns`: one page of the account's campaigns.
    pub async fn campaigns(&self, limit: u32, offset: u64) -> Result<CampaignPage, Error> {
        let path = format!("/api/campaigns?limit={limit}&offset={offset}");
        data(expect(self.call(Method::GET, &path, None).await?, 200)?)
    }

    /// `POST /api/campaigns`: a new campaign.
    pub async fn create_campaign(&self, name: &str) -> Result<Campaign, Error> {
        let body = json!({ "name": name });
        let answer = self
            .call(Method::POST, "/api/campaigns", Some(&body))
            .await?;
        data(expect(answer, 201)?)
    }

    /// `POST /api/runs`: a new run (`agent`, `input`, `summary`, `initiator`,
    /// `context`, `campaignId`, `webhookUrl`).
    pub async fn create_run(&self, body: &Value) -> Result<RunCreated, Error> {
        data(expect(
            self.call(Method::POST, "/api/runs", Some(body)).await?,
            201,
        )?)
    }

    /// `POST /api/runs/<id>/cancel`: the owner cancels a run (409 once it ended).
    pub async fn cancel_run(&self, run_id: impl std::fmt::Display) -> Result<(), Error> {
        let path = format!("/api/runs/{run_id}/cancel");
        expect(self.call(Method::POST, &path, None).await?, 200).map(drop)
    }

    /// `DELETE /api/runs/<id>`: deletes a run with its steps, events and artifacts.
    pub async fn delete_run(&self, run_id: impl std::fmt::Display) -> Result<(), Error> {
        let path = format!("/api/runs/{run_id}");
        expect(self.call(Method::DELETE, &path, None).await?, 200).map(drop)
    }

    /// `POST /api/runner/claim` (pull model): the oldest requested run of `agent`,
    /// now queued, with its runner token; `None` when there is none (204).
    pub async fn claim(&self, agent: &str) -> Result<Option<RunCreated>, Error> {
        let body = json!({ "agent": agent });
        match self
            .call(Method::POST, "/api/runner/claim", Some(&body))
            .await?
        {
            (204, _) => Ok(None),
            answer => data(expect(answer, 200)?).map(Some),
        }
    }
}
