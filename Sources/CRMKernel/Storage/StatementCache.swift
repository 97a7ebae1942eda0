import CSQLite

/// Compiled statements kept per connection, keyed by plugin and SQL text, so
/// a handler that prepares the same SQL on every call compiles it once. The
/// plugin is part of the key because the authorizer checks a statement when
/// it is compiled: one plugin must never reuse another's checked statement.
///
/// Owned by one connection and used only by that connection's current user.
final class StatementCache {
    private struct Key: Hashable {
        var plugin: String
        var sql: String
    }

    private var idle: [Key: [OpaquePointer]] = [:]
    private var count = 0
    private let limit: Int

    init(limit: Int = 512) { self.limit = limit }

    /// Kernel statements run on every write (the implicit audit entry),
    /// kept by a small slot number: no hashing of their SQL per call.
    private var pinned: [OpaquePointer?] = []

    deinit {
        for statements in idle.values { statements.forEach { sqlite3_finalize($0) } }
        pinned.forEach { sqlite3_finalize($0) }
    }

    /// The statement kept in `slot`, compiled by `compile` on first use.
    /// Reset and unbind it after each run; it is never handed to a plugin.
    func pinned(_ slot: Int, compile: () -> OpaquePointer?) -> OpaquePointer? {
        if slot < pinned.count, let statement = pinned[slot] { return statement }
        guard let statement = compile() else { return nil }
        while pinned.count <= slot { pinned.append(nil) }
        pinned[slot] = statement
        return statement
    }

    /// A ready statement for `sql`, from the cache or freshly compiled by `compile`.
    func take(plugin: String, sql: String, compile: () -> OpaquePointer?) -> OpaquePointer? {
        // One hash of the key, and the list is changed in place: a write
        // call takes and gives back several statements.
        if let slot = idle.index(forKey: Key(plugin: plugin, sql: sql)), let statement = idle.values[slot].popLast() {
            count -= 1
            return statement
        }
        return compile()
    }

    /// Returns a statement for reuse (reset, bindings cleared), or finalizes it when full.
    func give(back statement: OpaquePointer, plugin: String, sql: String) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        guard count < limit else {
            sqlite3_finalize(statement)
            return
        }
        // Emptied lists stay for reuse; SQL that is built afresh per call
        // must not grow the table without end.
        if idle.count >= 2 * limit { idle = idle.filter { !$0.value.isEmpty } }
        idle[Key(plugin: plugin, sql: sql), default: []].append(statement)
        count += 1
    }
}
