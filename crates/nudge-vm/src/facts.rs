//! What the VM may read: one profile and its history.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::value::{Event, Props, Value};

/// Read access to one profile and its history. The engine implements it on
/// its store; tests implement it on plain vectors.
pub trait Facts {
    /// The profile's id.
    fn profile_id(&self) -> &str;
    /// The id as a shared string, for a journey to keep (a copy unless the
    /// implementation holds one already).
    fn shared_profile_id(&self) -> Arc<str> {
        Arc::from(self.profile_id())
    }
    /// A declared attribute (none when unset).
    fn attribute(&self, name: &str) -> Value;
    /// The attributes that are set, when the implementation holds them as
    /// [`Props`] (a copy is a reference count); `None` makes a template
    /// read each declared field through [`Facts::attribute`] instead.
    fn attributes(&self) -> Option<Props> {
        None
    }
    /// The profile's events called `name`, newest first, until `visit`
    /// returns false.
    fn history(&self, name: &str, visit: &mut dyn FnMut(&Event) -> bool);
    /// When the profile was last active (any accepted `track` event), else
    /// when it was created.
    fn last_activity(&self) -> DateTime<Utc>;
}
