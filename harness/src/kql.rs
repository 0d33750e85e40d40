//! A KQL lexer, parser and interpreter for the part of the language hunting queries use.

pub mod bind;
pub mod func;
pub mod schema;
pub mod table;
pub mod value;

pub use bind::Database;
pub use schema::{Catalog, Column, TableSchema};
pub use table::{EventRef, Row, Table};
pub use value::{ScalarType, Value};
