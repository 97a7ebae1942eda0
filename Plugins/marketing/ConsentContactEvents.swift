import CRMPluginKit
import MarketingContract

/// Consent follows contacts' merges and erasures, in the event's transaction
/// (a redelivery finds the work done: every step is guarded by the data).
enum ConsentContactEvents {
    /// The merged person's ledger, tokens and suppressions move to the
    /// survivor; the survivor's status per channel is settled by `settle`.
    static func merged(_ ctx: CallContext, _ db: Database, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        try db.execute("""
            UPDATE marketing_consent_ledger SET person_id = ?,
                merged_from_person_id = CASE WHEN merged_from_person_id = 0 THEN ? ELSE merged_from_person_id END
            WHERE person_id = ?
            """, [.integer(survivor), .integer(merged), .integer(merged)])
        try db.execute("UPDATE marketing_consent_tokens SET person_id = ? WHERE person_id = ?", [.integer(survivor), .integer(merged)])
        try db.execute("UPDATE marketing_suppressions SET person_id = ? WHERE person_id = ?", [.integer(survivor), .integer(merged)])
        for channel in Consent.channels {
            let other = try ConsentStore.state(db, merged, channel)
            guard other.status != .unspecified else { continue }
            let mine = try ConsentStore.state(db, survivor, channel)
            try db.execute("DELETE FROM marketing_consent_state WHERE person_id = ? AND channel = ?",
                           [.integer(merged), .integer(Int64(channel.rawValue))])
            try ctx.audit(AuditEntry(entity: "marketing.consent", recordID: "\(merged):\(channel.rawValue)", action: "merge",
                                     changes: [FieldChange("status", old: ConsentStore.name(other.status), new: nil),
                                               FieldChange("merged_into", old: nil, new: String(survivor))]))
            let settled = settle(mine, other)
            if settled != mine.status {
                try ConsentStore.change(ctx, db, ConsentChange(
                    personID: survivor, channel: channel, status: settled,
                    source: "merge of person \(merged) (its \(ConsentStore.name(other.status)) of \(other.updatedUnixUs) µs)",
                    mergedFrom: merged))
            } else if settled != .pendingConfirmation {
                // The merged person's pending link must not undo the survivor's settled status.
                try ConsentTokens.revoke(db, survivor, channel)
            }
        }
    }

    /// The most restrictive latest intent: a complaint, then a bounce, wins
    /// outright (the address must not be mailed); otherwise an unsubscribe
    /// wins over a subscription (or pending request) it is not older than,
    /// a subscription over a pending request, and any status over none.
    static func settle(_ a: ConsentState, _ b: ConsentState) -> ConsentStatus {
        let statuses = [a.status, b.status]
        if statuses.contains(.complained) { return .complained }
        if statuses.contains(.bounced) { return .bounced }
        if a.status == b.status { return a.status }
        if a.status == .unspecified { return b.status }
        if b.status == .unspecified { return a.status }
        if !statuses.contains(.unsubscribed) { return .subscribed }  // subscribed and pending
        let (unsubscribed, other) = a.status == .unsubscribed ? (a, b) : (b, a)
        return unsubscribed.updatedUnixUs >= other.updatedUnixUs ? .unsubscribed : other.status
    }

    /// Blanks what the ledger says about the person (source, evidence,
    /// address), deletes their tokens and their status (no status: nothing
    /// is sent), and keeps their suppressions under the address hash only,
    /// so a suppressed address stays unmailable. Audit values and events
    /// about their consent and suppressions are redacted.
    static func erased(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        guard person > 0 else { return }
        let now = UTCClock.nowMicros()
        // The person's addresses, as ledger entries and tokens knew them (contacts has forgotten them).
        var suppressionIDs = Set<Int64>()
        for row in try db.query("""
            SELECT channel, address FROM marketing_consent_ledger WHERE person_id = ? AND address <> ''
            UNION SELECT channel, address FROM marketing_consent_tokens WHERE person_id = ? AND address <> ''
            """, [.integer(person), .integer(person)]) {
            let channel = ConsentStore.channel(row[0].int ?? 0)
            if let entry = try ConsentSuppressions.find(db, channel, row[1].string ?? "") { suppressionIDs.insert(entry.id) }
        }
        for row in try db.query("SELECT id FROM marketing_suppressions WHERE person_id = ?", [.integer(person)]) {
            suppressionIDs.insert(row[0].int ?? 0)
        }
        for channel in Consent.channels {
            let state = try ConsentStore.state(db, person, channel)
            if state.status != .unspecified {
                try db.execute("""
                    INSERT INTO marketing_consent_ledger (person_id, channel, old_status, new_status, source, evidence, address,
                        actor_user, actor_uid, merged_from_person_id, created_us, erased_us)
                    VALUES (?, ?, ?, 0, 'erasure', '', '', '', -1, 0, ?, ?)
                    """, [.integer(person), .integer(Int64(channel.rawValue)), .integer(Int64(state.status.rawValue)),
                          .integer(now), .integer(now)])
                try db.execute("DELETE FROM marketing_consent_state WHERE person_id = ? AND channel = ?",
                               [.integer(person), .integer(Int64(channel.rawValue))])
                try ctx.audit(AuditEntry(entity: "marketing.consent", recordID: "\(person):\(channel.rawValue)", action: "erase",
                                         changes: [FieldChange("status", old: ConsentStore.name(state.status), new: nil)]))
                try Segments.personChanged(ctx, db, personID: person)
            }
            try ctx.redact(entity: "marketing.consent", recordID: "\(person):\(channel.rawValue)")
        }
        try db.execute("""
            UPDATE marketing_consent_ledger SET source = '', evidence = '', address = '', erased_us = ?
            WHERE person_id = ? AND erased_us = 0
            """, [.integer(now), .integer(person)])
        try db.execute("DELETE FROM marketing_consent_tokens WHERE person_id = ?", [.integer(person)])
        for id in suppressionIDs.sorted() {
            try db.execute("UPDATE marketing_suppressions SET address = '', detail = '', person_id = 0 WHERE id = ?", [.integer(id)])
            try ctx.audit(AuditEntry(entity: "marketing.suppression", recordID: String(id), action: "erase",
                                     changes: [FieldChange("address", old: "[erased]", new: nil)]))
            try ctx.redact(entity: "marketing.suppression", recordID: String(id))
        }
    }
}
