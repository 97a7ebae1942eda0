import CRMPluginKit
import ContactsContract
import MarketingContract

/// One status change to record.
struct ConsentChange {
    var personID: Int64
    var channel: Channel
    var status: ConsentStatus
    var source: String
    var evidence: String = ""
    /// The address the change concerns (the primary one then), for the ledger.
    var address: String = ""
    /// The person's owner, so the event streams only to callers reaching them.
    var owner: String? = nil
    var mergedFrom: Int64 = 0
}

/// The state table and the ledger: `change` is the one way a status
/// changes, so every change has its ledger entry, audit entry, event and
/// segment re-evaluation, all in the caller's transaction.
enum ConsentStore {
    static let ledgerColumns = """
        id, person_id, channel, old_status, new_status, source, evidence, address, actor_user, actor_uid,
        merged_from_person_id, created_us, erased_us
        """

    static func state(_ db: Database, _ person: Int64, _ channel: Channel) throws -> ConsentState {
        var state = ConsentState()
        state.personID = person
        state.channel = channel
        if let row = try db.query("SELECT status, updated_us FROM marketing_consent_state WHERE person_id = ? AND channel = ?",
                                  [.integer(person), .integer(Int64(channel.rawValue))]).first {
            state.status = status(row[0].int ?? 0)
            state.updatedUnixUs = row[1].int ?? 0
        }
        return state
    }

    /// Records `change` unless the status already is the one asked; returns
    /// the state after and the ledger entry's id (0 when nothing changed).
    @discardableResult
    static func change(_ ctx: CallContext, _ db: Database, _ change: ConsentChange) throws -> (state: ConsentState, ledgerID: Int64) {
        let before = try state(db, change.personID, change.channel)
        if before.status == change.status { return (before, 0) }
        let now = max(UTCClock.nowMicros(), before.updatedUnixUs &+ 1)
        let channel = Int64(change.channel.rawValue)
        try db.execute("""
            INSERT INTO marketing_consent_state (person_id, channel, status, updated_us) VALUES (?, ?, ?, ?)
            ON CONFLICT (person_id, channel) DO UPDATE SET status = excluded.status, updated_us = excluded.updated_us
            """, [.integer(change.personID), .integer(channel), .integer(Int64(change.status.rawValue)), .integer(now)])
        let ledgerID = try db.execute("""
            INSERT INTO marketing_consent_ledger (person_id, channel, old_status, new_status, source, evidence, address,
                actor_user, actor_uid, merged_from_person_id, created_us, erased_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
            """, [.integer(change.personID), .integer(channel), .integer(Int64(before.status.rawValue)),
                  .integer(Int64(change.status.rawValue)), .text(change.source), .text(change.evidence),
                  .text(change.address), .text(ctx.user ?? ""), .integer(ctx.callerUID), .integer(change.mergedFrom),
                  .integer(now)]).lastInsertID
        // A pending confirmation means something only while the status is pending.
        if change.status != .pendingConfirmation { try ConsentTokens.revoke(db, change.personID, change.channel) }
        let record = "\(change.personID):\(change.channel.rawValue)"
        // Changes not made through a person lookup (a confirmation link, a
        // merge, a bounce) take the owner from the people projection.
        let owner = try change.owner ?? SegmentPeople.state(db, change.personID).flatMap { ownerOrNil($0.owner) }
        try ctx.audit(AuditEntry(entity: "marketing.consent", recordID: record, action: before.status == .unspecified ? "create" : "update",
                                 owner: owner, changes: [
                                     FieldChange("status", old: before.status == .unspecified ? nil : name(before.status),
                                                 new: name(change.status)),
                                     FieldChange("source", old: nil, new: change.source.isEmpty ? nil : change.source),
                                     FieldChange("evidence", old: nil, new: change.evidence.isEmpty ? nil : change.evidence),
                                 ].filter { $0.old != $0.new }))
        var event = Crm_Marketing_V1_ConsentEvent()
        event.personID = change.personID
        event.channel = change.channel
        event.oldStatus = before.status
        event.newStatus = change.status
        event.source = change.source
        event.changedUnixUs = now
        event.about.personIds = [change.personID]
        event.about.summary = "\(name(change.channel).capitalized) consent: \(name(change.status).lowercased().replacingOccurrences(of: "_", with: " "))"
            + (change.source.isEmpty ? "" : " (\(change.source))")
        try ctx.publish("marketing.consent.changed", event,
                        about: EventSubject(entity: "marketing.consent", recordID: record, owner: owner))
        try Segments.personChanged(ctx, db, personID: change.personID)
        var after = ConsentState()
        after.personID = change.personID
        after.channel = change.channel
        after.status = change.status
        after.updatedUnixUs = now
        return (after, ledgerID)
    }

    static func ledgerEntry(_ row: [SQLValue]) -> Crm_Marketing_V1_ConsentLedgerEntry {
        var entry = Crm_Marketing_V1_ConsentLedgerEntry()
        entry.id = row[0].int ?? 0
        entry.personID = row[1].int ?? 0
        entry.channel = channel(row[2].int ?? 0)
        entry.oldStatus = status(row[3].int ?? 0)
        entry.newStatus = status(row[4].int ?? 0)
        entry.source = row[5].string ?? ""
        entry.evidence = row[6].string ?? ""
        entry.address = row[7].string ?? ""
        entry.actorUser = row[8].string ?? ""
        entry.actorUid = row[9].int ?? -1
        entry.mergedFromPersonID = row[10].int ?? 0
        entry.createdUnixUs = row[11].int ?? 0
        entry.erasedUnixUs = row[12].int ?? 0
        return entry
    }

    static func status(_ raw: Int64) -> ConsentStatus { ConsentStatus(rawValue: Int(truncatingIfNeeded: raw)) ?? .unspecified }
    static func channel(_ raw: Int64) -> Channel { Channel(rawValue: Int(truncatingIfNeeded: raw)) ?? .unspecified }

    static func name(_ status: ConsentStatus) -> String {
        switch status {
        case .unspecified: return "UNSPECIFIED"
        case .subscribed: return "SUBSCRIBED"
        case .unsubscribed: return "UNSUBSCRIBED"
        case .pendingConfirmation: return "PENDING_CONFIRMATION"
        case .bounced: return "BOUNCED"
        case .complained: return "COMPLAINED"
        case .UNRECOGNIZED(let v): return String(v)
        }
    }

    static func name(_ channel: Channel) -> String {
        switch channel {
        case .email: return "EMAIL"
        case .sms: return "SMS"
        case .unspecified: return "UNSPECIFIED"
        case .UNRECOGNIZED(let v): return String(v)
        }
    }
}
