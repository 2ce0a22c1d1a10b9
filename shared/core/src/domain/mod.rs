//! What an approval is and the rules it follows, as data in and data out.

pub mod approval;
pub mod identity;
pub mod integrity;
pub mod lifecycle;
pub mod record;
pub mod reminder;
pub mod request;
pub mod review_link;
pub mod seal;
pub mod sweep;
