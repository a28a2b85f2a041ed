//! What can go wrong rendering, listing or previewing a label job: the texts are the
//! operator's (a failed job keeps its error; `label preview` prints it).

use crate::label::model::RenderError;
use crate::label::preview::PreviewError;
use crate::label::template::TemplateError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("return {0} is not in the database")]
    NoReturn(String),
    #[error("a defect tag needs an item number")]
    NoItemNumber,
    #[error("return {return_id} has no item {item_no}")]
    NoItem { return_id: String, item_no: i64 },
    #[error("RTV note {0} is not in the journal")]
    NoRtvNote(String),
    #[error("no data for label template {0:?}")]
    NoTemplateData(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("unknown printer language {0:?}")]
    Language(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Preview(#[from] PreviewError),
    #[error("no print job {0} (see `returnsd print queue --all`)")]
    NoJob(i64),
    #[error("no print job for {0} (see `returnsd print queue --all`)")]
    NoJobFor(String),
    #[error("give --job N or --return ID")]
    NoSelection,
    #[error("this job was never rendered and no [printer] is configured")]
    NoPrinter,
    /// The blocking task that rendered the job or read the queue died.
    #[error("print task failed: {0}")]
    Task(String),
}

/// The CLI's commands answer with text errors: `?` turns a print error into its text.
/// (Goes when the CLI has typed errors of its own.)
impl From<PrintError> for String {
    fn from(e: PrintError) -> String {
        e.to_string()
    }
}
