//! Typed primary keys. Every table's rows are reached internally by an integer key
//! and publicly by a UUID; the integer keys never leave the server. Giving each
//! table's key its own type makes "a run key passed where an account key belongs"
//! a compile error instead of a cross-tenant query.

use serde::{Deserialize, Serialize};

macro_rules! primary_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Default` (0, no row) only so that types carrying a key can skip it when
        /// they are sent to the browser, which never sees internal keys.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

primary_key!(
    /// `accounts.pk`: the tenant every query is scoped to.
    AccountPk
);
primary_key!(
    /// `users.pk`.
    UserPk
);
primary_key!(
    /// `runs.pk`.
    RunPk
);
primary_key!(
    /// `campaigns.pk`.
    CampaignPk
);
