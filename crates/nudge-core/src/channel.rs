//! Delivery channels and message priorities.

use serde::{Deserialize, Serialize};

/// A delivery channel. Serialised by its keyword in formats that name
/// variants (JSON), by its index in those that do not (modules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `email`
    Email,
    /// `push`
    Push,
    /// `sms`
    Sms,
    /// `in_app`
    InApp,
    /// `webhook`
    Webhook,
}

impl Channel {
    /// Every channel, in declaration order.
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Push,
        Channel::Sms,
        Channel::InApp,
        Channel::Webhook,
    ];

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Push => "push",
            Channel::Sms => "sms",
            Channel::InApp => "in_app",
            Channel::Webhook => "webhook",
        }
    }

    /// The channel for a keyword.
    pub fn from_keyword(word: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == word)
    }
}

/// Message priority of a workflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// The default: subject to the cap, quiet hours and marketing
    /// unsubscribes.
    #[default]
    Marketing,
    /// Bypasses the cap, quiet hours and marketing unsubscribes.
    Transactional,
}

impl Priority {
    /// The keyword (`priority transactional`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Marketing => "marketing",
            Priority::Transactional => "transactional",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_keyword(c.as_str()), Some(c));
        }
        assert_eq!(Channel::from_keyword("fax"), None);
    }
}
