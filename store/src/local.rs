//! A store in a local directory: key `a/b.json` is the file `<root>/a/b.json`.

use crate::{Error, Result, Store, check_key};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);
const TMP_MARK: &str = ".pgtmp-";

/// A directory used as an object store. Writes go to a temporary file first, so readers
/// never see half an object.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    private: bool,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into(), private: false }
    }

    /// A store for state only its owner should read (checkpoints): files are created with
    /// mode 0600 and directories 0700 (on Unix), and each file is synced to disk before it
    /// is renamed into place, so a crash leaves the old object or the new one, never a mix.
    pub fn private(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into(), private: true }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes `data` next to `path` under a temporary name and returns that name.
    async fn write_temp(&self, key: &str, path: &Path, data: &[u8]) -> Result<PathBuf> {
        let io = |op| move |source| Error::Io { op, key: key.to_string(), source };
        if let Some(parent) = path.parent() {
            let mut builder = tokio::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            if self.private {
                builder.mode(0o700);
            }
            builder.create(parent).await.map_err(io("create directory"))?;
        }
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{file}{TMP_MARK}{}-{n}", std::process::id()));
        if !self.private {
            tokio::fs::write(&tmp, data).await.map_err(io("write"))?;
            return Ok(tmp);
        }
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let written = async {
            let mut f = options.open(&tmp).await?;
            f.write_all(data).await?;
            f.sync_all().await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io("write")(e));
        }
        Ok(tmp)
    }
}

impl Store for LocalStore {
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        let io = |op| move |source: std::io::Error| Error::Io { op, key: key.to_string(), source };
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Err(Error::NotFound { key: key.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound { key: key.to_string() }),
            Err(e) => return Err(io("stat")(e)),
        };
        if meta.len() > max_bytes {
            return Err(Error::TooLarge { key: key.to_string(), size: meta.len(), limit: max_bytes });
        }
        let data = tokio::fs::read(&path).await.map_err(io("read"))?;
        let size = data.len() as u64;
        if size > max_bytes {
            return Err(Error::TooLarge { key: key.to_string(), size, limit: max_bytes });
        }
        Ok(data)
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let path = self.path(key)?;
        let tmp = self.write_temp(key, &path, &data).await?;
        if let Err(source) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Error::Io { op: "rename", key: key.to_string(), source });
        }
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, data: Vec<u8>) -> Result<bool> {
        let path = self.path(key)?;
        let tmp = self.write_temp(key, &path, &data).await?;
        // hard_link fails when the target exists: an atomic "create if absent" with full content.
        let linked = tokio::fs::hard_link(&tmp, &path).await;
        let _ = tokio::fs::remove_file(&tmp).await;
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(Error::Io { op: "link", key: key.to_string(), source }),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut dirs = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = dirs.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Io { op: "list", key: rel, source }),
            };
            loop {
                let entry = match entries.next_entry().await {
                    Ok(Some(e)) => e,
                    Ok(None) => break,
                    Err(source) => return Err(Error::Io { op: "list", key: rel.clone(), source }),
                };
                let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
                let key = format!("{rel}{name}");
                let file_type = match entry.file_type().await {
                    Ok(t) => t,
                    Err(source) => return Err(Error::Io { op: "list", key, source }),
                };
                if file_type.is_dir() {
                    let dir_key = format!("{key}/");
                    if dir_key.starts_with(prefix) || prefix.starts_with(&dir_key) {
                        dirs.push((entry.path(), dir_key));
                    }
                } else if file_type.is_file() && !name.contains(TMP_MARK) && key.starts_with(prefix) {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { op: "delete", key: key.to_string(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        s.put("inputs/a b.json", b"{}".to_vec()).await.unwrap();
        s.put("results/x.json", b"12345".to_vec()).await.unwrap();
        assert_eq!(s.get("inputs/a b.json", 10).await.unwrap(), b"{}");
        assert!(matches!(s.get("results/x.json", 4).await, Err(Error::TooLarge { size: 5, limit: 4, .. })));
        assert!(matches!(s.get("nope", 4).await, Err(Error::NotFound { .. })));
        assert!(s.put_if_absent("markers/m", b"1".to_vec()).await.unwrap());
        assert!(!s.put_if_absent("markers/m", b"2".to_vec()).await.unwrap());
        assert_eq!(s.get("markers/m", 10).await.unwrap(), b"1");
        assert_eq!(s.list("").await.unwrap(), vec!["inputs/a b.json", "markers/m", "results/x.json"]);
        assert_eq!(s.list("inputs/").await.unwrap(), vec!["inputs/a b.json"]);
        s.delete("markers/m").await.unwrap();
        s.delete("markers/m").await.unwrap();
        assert_eq!(s.list("mark").await.unwrap(), Vec::<String>::new());
        assert!(s.get("../etc/passwd", 10).await.is_err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn private_store_writes_owner_only_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::private(dir.path().join("ckpt"));
        s.put("jobs/a.ckpt", b"one".to_vec()).await.unwrap();
        s.put("jobs/a.ckpt", b"two".to_vec()).await.unwrap();
        assert!(s.put_if_absent("leases/a/0", b"x".to_vec()).await.unwrap());
        assert_eq!(s.get("jobs/a.ckpt", 10).await.unwrap(), b"two");
        for (path, want) in [("ckpt/jobs/a.ckpt", 0o600), ("ckpt/leases/a/0", 0o600), ("ckpt/jobs", 0o700)] {
            let mode = std::fs::metadata(dir.path().join(path)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, want, "{path}: {mode:o}");
        }
        // No temporary files are left behind.
        assert_eq!(s.list("").await.unwrap(), vec!["jobs/a.ckpt", "leases/a/0"]);
        assert_eq!(std::fs::read_dir(dir.path().join("ckpt/jobs")).unwrap().count(), 1);
    }
}
