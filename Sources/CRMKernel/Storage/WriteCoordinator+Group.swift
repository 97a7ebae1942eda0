import CRMPluginABI
import CSQLite

/// One group commit, and what makes each job's outcome its own.
extension WriteCoordinator {
    /// Takes the queued jobs (and any that arrive meanwhile, up to
    /// `maxGroup`), runs them in one transaction, commits, and tells each.
    /// If the COMMIT fails, or SQLite rolls the transaction back under one
    /// job, every job whose work was lost with it runs again alone.
    func runGroup() {
        do { try connection.control("BEGIN IMMEDIATE") } catch {
            let failure = Outcome.failed(SessionError(status: CRM_STATUS_UNAVAILABLE,
                                                      message: "cannot begin a write transaction: \(error)"))
            for job in take(maxGroup) { finish(job, failure) }
            return
        }
        var group: [(job: Job, outcome: Outcome)] = []
        let summary = AuditSummary()
        var lost = false
        filling: while group.count < maxGroup {
            let batch = take(maxGroup - group.count)
            if batch.isEmpty { break }
            for (i, job) in batch.enumerated() {
                group.append((job, runInSavepoint(plugin: job.plugin, summarizing: summary, job.body!)))
                if !connection.inTransaction {
                    // The jobs after it have not run: they form the next group.
                    lost = true
                    putBack(Array(batch[(i + 1)...]))
                    break filling
                }
            }
        }
        let failed = lost || !write(summary) || commit() != nil
        for (job, outcome) in group {
            if failed, case .committed = outcome {
                finish(job, runAlone(job))
            } else {
                finish(job, outcome)
            }
        }
    }

    /// Runs one job in a transaction of its own (its group could not commit).
    private func runAlone(_ job: Job) -> Outcome {
        do { try connection.control("BEGIN IMMEDIATE") } catch {
            return .failed(SessionError(status: CRM_STATUS_UNAVAILABLE, message: "cannot begin a write transaction: \(error)"))
        }
        let outcome = runInSavepoint(plugin: job.plugin, job.body!)
        guard connection.inTransaction else { return outcome }
        guard case .committed = outcome else {
            try? connection.control("ROLLBACK")
            return outcome
        }
        if let failure = commit() {
            return .failed(SessionError(status: CRM_STATUS_UNAVAILABLE, message: "commit failed: \(failure)"))
        }
        return .committed
    }

    private func finish(_ job: Job, _ outcome: Outcome) {
        // A `write` caller's closure must not outlive its call.
        job.body = nil
        job.done(outcome)
    }

    /// An in-process call made by a handler that already writes: it joins
    /// the caller's transaction in a nested savepoint, so the two commit or
    /// roll back together. Only the writer thread may call this.
    func nested(plugin: String, _ body: Body) -> Outcome {
        runInSavepoint(plugin: plugin, body)
    }

    /// The group's implicit audit entries, one per method and principal
    /// (AuditSummary), in its transaction; false (and the transaction
    /// rolled back) if they cannot be written: the group's calls then run
    /// again alone, each with an entry of its own.
    private func write(_ summary: AuditSummary) -> Bool {
        guard !summary.isEmpty else { return true }
        let session = StorageSession(connection: connection, writable: true, plugin: "")
        defer { session.finish() }
        do {
            for (who, calls) in summary.entries { try AuditWriter.insert(nil, who: who, calls: calls, in: session) }
            return true
        } catch {
            if connection.inTransaction { try? connection.control("ROLLBACK") }
            return false
        }
    }

    /// Runs one call's body in its own savepoint (nested calls nest
    /// savepoints). The call is rolled back when its handler fails, when its
    /// session was doomed (whatever the handler returned), or when it leaves
    /// a deferred foreign key violated: that would fail the group's COMMIT.
    /// With `summarizing`, a call that kept its writes and owes an implicit
    /// audit entry is counted there once its savepoint is released.
    private func runInSavepoint(plugin: String, summarizing summary: AuditSummary? = nil, _ body: Body) -> Outcome {
        do { try connection.control("SAVEPOINT crm_call") } catch {
            return .failed(SessionError(status: CRM_STATUS_INTERNAL, message: "cannot open a savepoint: \(error)"))
        }
        let deferredBefore = deferredViolations()
        let session = StorageSession(connection: connection, writable: true, plugin: plugin)
        session.summarizesImplicitEntry = summary != nil
        let outer = inBody
        inBody = true
        let keep = body(session)
        inBody = outer
        session.finish()
        guard connection.inTransaction else {
            // SQLite rolled the whole transaction back (an interrupted or failed write).
            if let fatal = session.fatal { return .failed(fatal) }
            return keep ? .failed(SessionError(status: CRM_STATUS_UNAVAILABLE,
                                               message: "SQLite rolled the write transaction back: \(connection.sqlite.lastError())"))
                        : .rolledBack
        }
        var failure = session.fatal
        if failure == nil && keep && deferredViolations() > deferredBefore {
            failure = SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                                   message: "FOREIGN KEY constraint failed: a deferred foreign key is still violated when the call ends")
        }
        do {
            if !keep || failure != nil { try connection.control("ROLLBACK TO crm_call") }
            try connection.control("RELEASE crm_call")
        } catch {
            // Its writes would stay in the group's transaction and commit with
            // it: give the whole transaction up instead (the group's other
            // calls then run again alone).
            if connection.inTransaction { try? connection.control("ROLLBACK") }
            return .failed(SessionError(status: CRM_STATUS_INTERNAL, message: "cannot end the savepoint: \(error)"))
        }
        if let failure { return .failed(failure) }
        guard keep else { return .rolledBack }
        if let owed = session.implicitEntryOwed { summary?.add(owed) }
        return .committed
    }

    /// Deferred foreign-key violations pending on the writer connection.
    private func deferredViolations() -> Int32 {
        var current: Int32 = 0, highest: Int32 = 0
        sqlite3_db_status(connection.sqlite.handle, SQLITE_DBSTATUS_DEFERRED_FKS, &current, &highest, 0)
        return current
    }

    /// Commits the open transaction; nil on success, else the reason (and
    /// the transaction is rolled back).
    private func commit() -> String? {
        do {
            try connection.control("COMMIT")
            onCommit?()
            return nil
        } catch {
            if connection.inTransaction { try? connection.control("ROLLBACK") }
            return "\(error)"
        }
    }
}
