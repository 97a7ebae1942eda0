import CRMPluginKit
import Foundation
import SwiftProtobuf
import Synchronization

/// Puts events on the timelines of the people and organizations they are
/// about. Other modules' events arrive through the bus; the module's own
/// are filed in the transaction that publishes them, which spares a CSV
/// import of a million people a million bus deliveries (read back, decode,
/// look up, write again) on the one writer.
enum TimelineFiling {
    /// Set once this process has recorded where inline filing began.
    private static let markedInline = Atomic<Bool>(false)
    /// The first inline-filed sequence, once read from the database (0: not yet).
    private static let inlineFrom = Atomic<UInt64>(0)

    /// Publishes a contacts event about `subject` (so crmd streams it only
    /// to callers whose scope reaches its owner, and erasure finds it) and
    /// files it under everyone `about` names.
    @discardableResult
    static func publish<M: Message>(_ ctx: CallContext, _ topic: String, _ message: M, about: About?,
                                    subject: EventSubject) throws -> UInt64 {
        let bytes: [UInt8] = try message.serializedBytes()
        let sequence = try ctx.publish(topic, message, about: subject)
        let db = try ctx.database
        if !markedInline.load(ordering: .relaxed) {
            // Events before this one were published by an older contacts
            // and still wait for the bus. Should this call roll back, the
            // mark is lost and the bus files own events too: slower, never wrong.
            try db.execute("UPDATE contacts_timeline_state SET inline_from = ? WHERE inline_from IS NULL",
                           [.integer(Int64(bitPattern: sequence))])
            markedInline.store(true, ordering: .relaxed)
        }
        if let about {
            // A record just created is neither merged nor erased, and its
            // organization was checked live in this transaction.
            try file(db, sequence: sequence, topic: topic, publisher: "contacts", typeName: M.protoMessageName,
                     occurredUnixUs: UTCClock.nowMicros(), about: about, source: subject, payload: bytes,
                     knownLive: topic.hasSuffix(".created"))
        }
        return sequence
    }

    /// True if this contacts event was filed when it was published.
    static func filedInline(_ db: Database, _ sequence: UInt64) throws -> Bool {
        var from = inlineFrom.load(ordering: .relaxed)
        if from == 0 {
            guard let value = try db.query("SELECT inline_from FROM contacts_timeline_state WHERE id = 1").first?.first?.int,
                  value > 0 else { return false }
            from = UInt64(value)
            inlineFrom.store(from, ordering: .relaxed)
        }
        return sequence >= from
    }

    /// Files one event under each live person and organization it names
    /// (merged ones under their survivor; erased ones nowhere), with the
    /// record it is about (`source`, the event's subject) for TimelineScope.
    static func file(_ db: Database, sequence: UInt64, topic: String, publisher: String, typeName: String,
                     occurredUnixUs: Int64, about: About, source: EventSubject?, payload: [UInt8],
                     knownLive: Bool = false) throws {
        guard !about.personIds.isEmpty || !about.organizationIds.isEmpty else { return }
        var targets: [(EntityKind, Int64)] = []
        for id in Set(about.personIds) {
            if knownLive { targets.append((.person, id)) } else if let live = try Timeline.resolvePerson(db, id) {
                targets.append((.person, live))
            }
        }
        for id in Set(about.organizationIds) {
            if knownLive { targets.append((.organization, id)) } else if let live = try Timeline.resolve(db, "contacts_organizations", id) {
                targets.append((.organization, live))
            }
        }
        guard !targets.isEmpty else { return }
        if let source { try TimelineScope.noteSource(db, source) }
        let insert = try db.prepare("""
            INSERT INTO contacts_timeline (entity, record_id, sequence, topic, publisher, type_name, occurred_us, summary, payload,
                source_entity, source_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity, record_id, sequence) DO NOTHING
            """)
        defer { insert.finalize() }
        let summary = String(about.summary.prefix(500))
        for (entity, id) in targets {
            try insert.reset()
            try insert.bind([.integer(entity.rawValue), .integer(id), .integer(Int64(bitPattern: sequence)),
                             .text(topic), .text(publisher), .text(typeName),
                             .integer(occurredUnixUs), .text(summary), .blob(payload),
                             .text(source?.entity ?? ""), .text(source?.recordID ?? "")])
            while try insert.step() {}
        }
    }
}
