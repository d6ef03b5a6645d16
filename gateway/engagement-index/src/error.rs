//! Why the engagement index refused a request. An [`EiError`] becomes a SOAP fault whose
//! faultstring starts with the skltp/ei error code (`EI000`–`EI004`), so clients written
//! against the national engagement index see the codes they know.

use vaxel_model::fault::EiCode;
use vaxel_model::{Cause, Fault};

/// An engagement index request that was not applied, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EiError {
    /// EI000: a request outside the service's limits (0 or more than 1000 transactions).
    #[error("{0}")]
    Limit(String),
    /// EI001: the message does not follow the schema (not XML, wrong structure, an
    /// element that does not belong, a value that is not a boolean).
    #[error("{0}")]
    Schema(String),
    /// EI002 (Update-R1): two transactions in one request have the same key.
    #[error("EngagementTransaction #{first} and #{second} have the same key. That is not allowed: send each engagement at most once per request (Update-R1)")]
    Duplicate { first: usize, second: usize },
    /// EI003 (Update-R7): Update was addressed to another logical address than this index.
    #[error("Invalid routing. Logical address is {got} but the owner is {owner}. They must be the same (Update-R7)")]
    WrongLogicalAddress { got: String, owner: String },
    /// EI004: a field value is missing or invalid.
    #[error("{0}")]
    Invalid(String),
    /// EI000: the store failed. The request was not applied; the detail is in the
    /// gateway log only (never SQL text in a fault).
    #[error("the engagement index could not read or write its store; nothing was changed, try again later")]
    Storage,
    /// EI001: the namespace is not one of the four engagement index contracts.
    #[error("`{0}` is not an engagement index service contract (Update, FindContent, ProcessNotification or GetUpdates, urn:riv:itintegration:engagementindex:*Responder:1)")]
    UnknownContract(String),
}

impl EiError {
    /// The skltp/ei error code (`EI000`..`EI004`).
    pub fn code(&self) -> &'static str {
        self.ei_code().as_str()
    }

    /// The skltp/ei error code.
    pub fn ei_code(&self) -> EiCode {
        match self {
            EiError::Limit(_) | EiError::Storage => EiCode::EI000,
            EiError::Schema(_) | EiError::UnknownContract(_) => EiCode::EI001,
            EiError::Duplicate { .. } => EiCode::EI002,
            EiError::WrongLogicalAddress { .. } => EiCode::EI003,
            EiError::Invalid(_) => EiCode::EI004,
        }
    }
}

impl From<EiError> for Fault {
    fn from(e: EiError) -> Fault {
        Fault::EngagementIndex {
            code: e.ei_code(),
            cause: Cause::new(e),
        }
    }
}
