/// Checks on plugin SQL text that need no database: read as SQLite
/// tokenizes, so string literals and comments are skipped and a quoted
/// name ("printf", [printf], `printf`) is the name it quotes.
public enum SQLChecks {
    /// Functions that reach outside the plugin: native code, a pointer
    /// leak, and the shared writer's counters (the host's last_insert_id
    /// and changes are per call instead). printf/format are SQLite's own
    /// (not portable SQL), and one call with a huge precision loops for
    /// seconds inside a single VM step, where no interrupt can stop it.
    public static let deniedFunctions: Set<String> = [
        "load_extension", "fts3_tokenizer", "changes", "total_changes", "printf", "format",
    ]

    /// A denied function called in `sql`, lowercased. SQLite does not show
    /// its authorizer the CHECK and generated-column expressions of ADD
    /// COLUMN, and evaluates them on existing rows while the ALTER runs.
    public static func deniedCall(in sql: String) -> String? {
        var previousName: String?
        for token in SQLTokens(sql) {
            switch token {
            case .name(let name): previousName = name
            case .open:
                if let name = previousName, deniedFunctions.contains(name) { return name }
                previousName = nil
            case .semicolon, .other: previousName = nil
            }
        }
        return nil
    }

    /// True when `sql` holds only whitespace, semicolons and comments: no second statement.
    public static func isBlank(_ sql: String) -> Bool {
        SQLTokens(sql).allSatisfy { $0 == .semicolon }
    }
}
