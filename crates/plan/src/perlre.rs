//! perlre
