/// Which schema names belong to a plugin: those in its prefix (`sales_`),
/// and the indexes SQLite makes itself for the constraints of its tables.
/// Names are compared lowercased, as SQLite's are case-insensitive.
public enum PluginTableNames {
    public static func isOwned(_ name: String, prefix: String) -> Bool { name.hasPrefix(prefix) }

    /// UNIQUE and PRIMARY KEY constraints make `sqlite_autoindex_<table>_N`.
    public static func isOwnedIndex(_ name: String, prefix: String) -> Bool {
        isOwned(name, prefix: prefix) || name.hasPrefix("sqlite_autoindex_" + prefix)
    }
}
