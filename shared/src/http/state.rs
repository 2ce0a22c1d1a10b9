//! What every handler is given: the service and the authenticator.

use std::sync::Arc;

use super::auth::Authenticator;
use crate::service::Service;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub auth: Arc<Authenticator>,
}
