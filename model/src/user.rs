//! The signed-in user as every page and server function sees it, and the one rule
//! of what each role may do ([`Role::require`]).

use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    Owner,
    Member,
    Viewer,
}

impl Role {
    /// How much a role may do: each role may do everything of the roles below it.
    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Member => 1,
            Role::Owner => 2,
        }
    }

    /// Whether this role may do what `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    /// The rule every handler and server function applies before acting: the
    /// caller's role must be `needed` or above, else `Forbidden` (403) naming both.
    pub fn require(self, needed: Role) -> Result<(), crate::AppError> {
        if self.allows(needed) {
            Ok(())
        } else {
            Err(crate::AppError::Forbidden(format!(
                "this needs the {needed} role or above; you are {}",
                self.article_name()
            )))
        }
    }

    fn article_name(self) -> &'static str {
        match self {
            Role::Owner => "an owner",
            Role::Member => "a member",
            Role::Viewer => "a viewer",
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(value: &str) -> Option<Role> {
        value.parse().ok()
    }
}

/// Who is calling. `account_pk` scopes every query made on their behalf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CurrentUser {
    #[serde(skip)]
    pub user_pk: crate::UserPk,
    #[serde(skip)]
    pub account_pk: crate::AccountPk,
    /// The user's epoch: sessions and API JWTs issued under another are void.
    #[serde(skip)]
    pub auth_epoch: i64,
    pub email: String,
    pub account_name: String,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_roles_below_it_may() {
        let roles = [Role::Viewer, Role::Member, Role::Owner];
        for (rank, role) in roles.iter().enumerate() {
            for (needed_rank, needed) in roles.iter().enumerate() {
                assert_eq!(
                    role.allows(*needed),
                    rank >= needed_rank,
                    "{role} for {needed}"
                );
                assert_eq!(role.require(*needed).is_ok(), rank >= needed_rank);
            }
        }
    }

    #[test]
    fn a_refusal_is_forbidden_and_names_both_roles() {
        let error = Role::Viewer.require(Role::Member).unwrap_err();
        assert_eq!(error.code(), "forbidden");
        assert_eq!(error.status_code(), http::StatusCode::FORBIDDEN);
        assert_eq!(
            error.to_string(),
            "this needs the member role or above; you are a viewer"
        );
    }
}
