//! The server's credentials: a write key (what Segment calls it: sources
//! send events with it) and an admin token (the read API), generated on
//! the first start and kept in `keys.json` in the data folder, readable by
//! its owner only.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ServeError;

/// The credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// Authenticates ingestion (`/v1/*`).
    pub write_key: String,
    /// Authenticates the read API (`/api/*`).
    pub admin_token: String,
}

/// The file that holds them.
pub fn path(data: &Path) -> PathBuf {
    data.join("keys.json")
}

/// Reads the keys of the data folder, or makes them when there are none
/// (`true`: made now, so the caller shows them once).
pub fn load_or_create(data: &Path) -> Result<(Keys, bool), ServeError> {
    let file = path(data);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let keys: Keys = serde_json::from_str(&text).map_err(|e| {
                ServeError::new(format!("`{}` cannot be read: {e}", file.display()))
            })?;
            if keys.write_key.is_empty() || keys.admin_token.is_empty() {
                return Err(ServeError::new(format!(
                    "`{}` has an empty key; delete the file to make new keys",
                    file.display()
                )));
            }
            Ok((keys, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = Keys {
                write_key: format!("wk_{}", random_hex(16)?),
                admin_token: format!("adm_{}", random_hex(24)?),
            };
            write_private(&file, &keys)?;
            Ok((keys, true))
        }
        Err(e) => Err(ServeError::new(format!(
            "cannot read `{}`: {e}",
            file.display()
        ))),
    }
}

fn random_hex(bytes: usize) -> Result<String, ServeError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| ServeError::new(format!("cannot draw random bytes for a key: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes the keys to a new file only its owner can read (written aside
/// and renamed, so a crash leaves the whole file or none).
fn write_private(file: &Path, keys: &Keys) -> Result<(), ServeError> {
    let failed =
        |e: std::io::Error| ServeError::new(format!("cannot write `{}`: {e}", file.display()));
    let tmp = file.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(failed)?;
    let text = serde_json::to_string_pretty(keys).map_err(|e| ServeError::new(e.to_string()))?;
    f.write_all(text.as_bytes()).map_err(failed)?;
    f.write_all(b"\n").map_err(failed)?;
    f.sync_all().map_err(failed)?;
    std::fs::rename(&tmp, file).map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_once_and_private() {
        let dir = std::env::temp_dir().join(format!("nudge-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (first, made) = load_or_create(&dir).unwrap();
        assert!(made);
        assert!(first.write_key.starts_with("wk_") && first.write_key.len() == 35);
        let (again, made) = load_or_create(&dir).unwrap();
        assert!(!made);
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path(&dir)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
