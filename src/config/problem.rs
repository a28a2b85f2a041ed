//! A problem with the configuration, named by file, line and key, and all of a file's
//! problems together.

use std::fmt;

/// One problem in a config: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file (or `environment (file)` for a value set by a variable).
    pub file: String,
    /// The key as a dotted path (`scan.couriers[0].pattern`), `-` for the whole file.
    pub key: String,
    /// The line the key stands on, when it stands in the file.
    pub line: Option<usize>,
    /// What is wrong, and what to write instead.
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}: {}", self.file, l, self.key, self.problem),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.problem),
        }
    }
}

/// All problems found in one config, in file order.
#[derive(Debug, Clone)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
