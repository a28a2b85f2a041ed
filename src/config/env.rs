//! `RETURNSD__SECTION__KEY=value` environment variables, laid over the file's TOML table
//! before it is read, so systemd units and containers can set any key without editing the
//! file (`RETURNSD__STATION__ID=ST02` is `[station] id = "ST02"`).

use super::ctx::Ctx;
use super::problem::ConfigProblem;

/// Lay every `RETURNSD__A__B=value` of `env` over `table`; `file` is the config file's
/// name, for problems. Keys set here are marked in `ctx`, so their problems point at the
/// environment.
pub fn apply(table: &mut toml::Table, env: &[(String, String)], file: &str, ctx: &mut Ctx) {
    for (k, v) in env {
        let Some(path) = k.strip_prefix("RETURNSD__") else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if keys.iter().any(String::is_empty) {
            ctx.push(ConfigProblem {
                file: format!("environment ({file})"),
                key: k.clone(),
                line: None,
                problem: "empty key segment".into(),
            });
            continue;
        }
        // A value is parsed as a TOML value when it is one (numbers, booleans, arrays),
        // otherwise taken as a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.clone()));
        match set_path(table, &keys, value) {
            Ok(()) => ctx.set_from_env(keys.join(".")),
            Err(seg) => ctx.push(ConfigProblem {
                file: "environment".into(),
                key: k.clone(),
                line: None,
                problem: format!("{seg} is not a table"),
            }),
        }
    }
}

/// Set `keys` (a path of table keys) to `value`, making the tables on the way; `Err` names
/// the key on the way that holds something other than a table.
fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(first.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> (toml::Table, Vec<String>) {
        let mut table: toml::Table = "[station]\nid = \"ST01\"\nlog = 1\n".parse().unwrap();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut ctx = Ctx::test();
        apply(&mut table, &vars, "t.toml", &mut ctx);
        let problems = ctx
            .finish(Some(()))
            .err()
            .map(|e| e.0.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        (table, problems)
    }

    /// Values are typed when they read as TOML, strings otherwise; tables are made on the
    /// way; other variables are ignored.
    #[test]
    fn variables_become_keys() {
        let (t, problems) = env(&[
            ("RETURNSD__STATION__ID", "ST02"),
            ("RETURNSD__SCAN__MAX_LEN", "64"),
            ("RETURNSD__HTTP__SECURE_COOKIE", "true"),
            ("RETURNSD_LOG", "debug"),
            ("PATH", "/bin"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(t["station"]["id"].as_str(), Some("ST02"));
        assert_eq!(t["scan"]["max_len"].as_integer(), Some(64));
        assert_eq!(t["http"]["secure_cookie"].as_bool(), Some(true));
        assert!(!t.contains_key("log"));
    }

    /// An empty segment or a path through a non-table is a problem naming the variable.
    #[test]
    fn bad_variables_are_problems() {
        let (_, problems) = env(&[
            ("RETURNSD__STATION____ID", "x"),
            ("RETURNSD__STATION__LOG__LEVEL", "x"),
        ]);
        assert_eq!(
            problems,
            [
                "environment (t.toml): RETURNSD__STATION____ID: empty key segment",
                "environment: RETURNSD__STATION__LOG__LEVEL: log is not a table",
            ]
        );
    }
}
