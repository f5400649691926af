//! The JSON API under `/api/v1`, one module per area. Every handler names the least
//! role it needs through its extractor (`Viewer`, `Responder`, `Commander`, `Admin`).

pub mod admin;
pub mod incidents;
pub mod ledger;
pub mod paging;
pub mod queries;
pub mod runbooks;
pub mod runs;
