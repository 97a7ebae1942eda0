import CRMPluginKit
import Foundation
import ServiceContract
import SwiftProtobuf

/// Reads and writes rows of `service_tickets` and their child tables.
/// Every write goes through `insert` or `save`, which hand the ticket
/// before and after to SlaEngine.track (the SLA history and due time).
struct TicketStore {
    let db: Database

    static let columns = """
        id, subject, description, requester_id, organization_id, channel, type, priority, status, assignee, team, \
        merged_into_id, follow_up_of_id, extras, version, created_us, updated_us, status_changed_us, first_response_us, \
        last_agent_reply_us, last_customer_reply_us, solved_us, closed_us, reopen_count, sla_due_us
        """

    static func decode(_ row: [SQLValue]) -> Ticket {
        var t = Ticket()
        t.id = row.int(0)
        t.subject = row.text(1)
        t.description_p = row.text(2)
        t.requesterID = row.int(3)
        t.organizationID = row.int(4)
        t.channel = Crm_Service_V1_Channel(rawValue: Int(truncatingIfNeeded: row.int(5))) ?? .unspecified
        t.type = Crm_Service_V1_TicketType(rawValue: Int(truncatingIfNeeded: row.int(6))) ?? .unspecified
        t.priority = Crm_Service_V1_Priority(rawValue: Int(truncatingIfNeeded: row.int(7))) ?? .unspecified
        t.status = TicketStatus(rawValue: Int(truncatingIfNeeded: row.int(8))) ?? .unspecified
        t.assignee = row.text(9)
        t.team = row.text(10)
        t.mergedIntoID = row.int(11)
        t.followUpOfID = row.int(12)
        if let extras = row[13].bytes, let decoded = try? Ticket(serializedBytes: extras) {
            t.tags = decoded.tags
            t.customFields = decoded.customFields
            t.followers = decoded.followers
        }
        t.version = row.int(14)
        t.createdUnixUs = row.int(15)
        t.updatedUnixUs = row.int(16)
        t.statusChangedUnixUs = row.int(17)
        t.firstResponseUnixUs = row.int(18)
        t.lastAgentReplyUnixUs = row.int(19)
        t.lastCustomerReplyUnixUs = row.int(20)
        t.solvedUnixUs = row.int(21)
        t.closedUnixUs = row.int(22)
        t.reopenCount = Int32(truncatingIfNeeded: row.int(23))
        t.slaDueUnixUs = row.int(24)
        return t
    }

    /// The queue bucket of a status (see ServiceSchema).
    static func bucket(_ status: TicketStatus) -> Int64 {
        switch status {
        case .solved: return 2
        case .closed: return 3
        default: return 1
        }
    }

    private static func extras(_ t: Ticket) -> [UInt8] {
        var only = Ticket()
        only.tags = t.tags
        only.customFields = t.customFields
        only.followers = t.followers
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? only.serializedBytes(options: options)) ?? []
    }

    /// The SLA queue order key: the due time, or last (Int64.max) without one.
    static func slaRank(_ t: Ticket) -> Int64 { t.slaDueUnixUs > 0 ? t.slaDueUnixUs : .max }

    private static func values(_ t: Ticket) -> [SQLValue] {
        [.text(t.subject), .text(t.description_p), .integer(t.requesterID), .integer(t.organizationID),
         .integer(Int64(t.channel.rawValue)), .integer(Int64(t.type.rawValue)), .integer(Int64(t.priority.rawValue)),
         .integer(5 - Int64(t.priority.rawValue)), .integer(Int64(t.status.rawValue)), .integer(bucket(t.status)),
         .text(t.assignee), .text(t.team), .integer(t.mergedIntoID), .integer(t.followUpOfID), .blob(extras(t)),
         .integer(t.version), .integer(t.createdUnixUs), .integer(t.updatedUnixUs), .integer(t.statusChangedUnixUs),
         .integer(t.firstResponseUnixUs), .integer(t.lastAgentReplyUnixUs), .integer(t.lastCustomerReplyUnixUs),
         .integer(t.solvedUnixUs), .integer(t.closedUnixUs), .integer(Int64(t.reopenCount)), .integer(t.slaDueUnixUs),
         .integer(slaRank(t))]
    }

    private static let assignments = """
        subject = ?, description = ?, requester_id = ?, organization_id = ?, channel = ?, type = ?, priority = ?, \
        urgency = ?, status = ?, bucket = ?, assignee = ?, team = ?, merged_into_id = ?, follow_up_of_id = ?, extras = ?, \
        version = ?, created_us = ?, updated_us = ?, status_changed_us = ?, first_response_us = ?, last_agent_reply_us = ?, \
        last_customer_reply_us = ?, solved_us = ?, closed_us = ?, reopen_count = ?, sla_due_us = ?, sla_rank = ?
        """

    func load(_ id: Int64) throws -> Ticket? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(Self.columns) FROM service_tickets WHERE id = ?", [.integer(id)]).first.map(Self.decode)
    }

    /// The ticket, or INVALID_ARGUMENT / NOT_FOUND naming `field`.
    func require(_ id: Int64, field: String) throws -> Ticket {
        try Validate.positiveID(id, field)
        guard let ticket = try load(id) else { throw Self.missing(id, field) }
        return ticket
    }

    static func missing(_ id: Int64, _ field: String) -> PluginError {
        .notFound("\(field): ticket \(id) does not exist")
    }

    /// The ticket if `scope` reaches it; NOT_FOUND as for a missing id otherwise.
    func require(_ id: Int64, field: String, readableIn scope: RecordScope) throws -> Ticket {
        let ticket = try require(id, field: field)
        guard try TicketScope.reaches(db, scope, ticket) else { throw Self.missing(id, field) }
        return ticket
    }

    /// The ticket if `scope` reaches it; PERMISSION_DENIED otherwise (a write).
    func require(_ id: Int64, field: String, writableIn scope: RecordScope) throws -> Ticket {
        let ticket = try require(id, field: field)
        guard try TicketScope.reaches(db, scope, ticket) else {
            throw PluginError(.permissionDenied, "\(field): ticket \(id) is outside your record scope")
        }
        return ticket
    }

    func insert(_ t: inout Ticket) throws {
        t.id = try db.execute("""
            INSERT INTO service_tickets (subject, description, requester_id, organization_id, channel, type, priority, urgency,
                status, bucket, assignee, team, merged_into_id, follow_up_of_id, extras, version, created_us, updated_us,
                status_changed_us, first_response_us, last_agent_reply_us, last_customer_reply_us, solved_us, closed_us,
                reopen_count, sla_due_us, sla_rank)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, Self.values(t)).lastInsertID
        try saveChildren(t, old: nil)
        try countLoad(old: nil, new: t)
        try SlaEngine.track(db, old: nil, new: &t)
        if t.slaDueUnixUs != 0 { try saveDue(t) }
    }

    /// Writes only the SLA due time (derived; the ticket's version stays).
    func saveDue(_ t: Ticket) throws {
        try db.execute("UPDATE service_tickets SET sla_due_us = ?, sla_rank = ? WHERE id = ?",
                       [.integer(t.slaDueUnixUs), .integer(Self.slaRank(t)), .integer(t.id)])
    }

    /// Writes `t` over its row; `old` (the row before) limits the child
    /// table writes to what changed.
    func save(_ t: inout Ticket, old: Ticket) throws {
        try SlaEngine.track(db, old: old, new: &t)
        try db.execute("UPDATE service_tickets SET \(Self.assignments) WHERE id = ?", Self.values(t) + [.integer(t.id)])
        try saveChildren(t, old: old)
        try countLoad(old: old, new: t)
    }

    /// Keeps service_agent_load (each agent's unsolved tickets) in step
    /// with a write: routing reads capacity and load from it.
    private func countLoad(old: Ticket?, new t: Ticket) throws {
        func counted(_ t: Ticket?) -> String? {
            guard let t, !t.assignee.isEmpty, Self.bucket(t.status) == 1 else { return nil }
            return t.assignee
        }
        let before = counted(old), after = counted(t)
        guard before != after else { return }
        for (agent, delta) in [(before, Int64(-1)), (after, Int64(1))] {
            guard let agent else { continue }
            try db.execute("""
                INSERT INTO service_agent_load (agent, open) VALUES (?, ?)
                ON CONFLICT (agent) DO UPDATE SET open = service_agent_load.open + excluded.open
                """, [.text(agent), .integer(delta)])
        }
    }

    private func saveChildren(_ t: Ticket, old: Ticket?) throws {
        let id = SQLValue.integer(t.id)
        if old?.tags != t.tags {
            try db.execute("DELETE FROM service_ticket_tags WHERE ticket_id = ?", [id])
            for tag in t.tags { try db.execute("INSERT INTO service_ticket_tags (ticket_id, tag) VALUES (?, ?)", [id, .text(tag)]) }
        }
        if old?.followers != t.followers {
            try db.execute("DELETE FROM service_ticket_followers WHERE ticket_id = ?", [id])
            for user in t.followers {
                try db.execute("INSERT INTO service_ticket_followers (ticket_id, user) VALUES (?, ?)", [id, .text(user)])
            }
        }
        if old?.customFields != t.customFields {
            try db.execute("DELETE FROM service_ticket_fields WHERE ticket_id = ?", [id])
            for (key, value) in t.customFields.sorted(by: { $0.key < $1.key }) {
                try db.execute("INSERT INTO service_ticket_fields (ticket_id, key, value) VALUES (?, ?, ?)",
                               [id, .text(key), .text(value)])
            }
        }
    }

    /// The last survivor of a merged ticket (merged_into_id always names
    /// it, as merges re-point earlier ones), or the ticket itself.
    func resolved(_ ticket: Ticket) throws -> Ticket {
        guard ticket.mergedIntoID != 0 else { return ticket }
        return try load(ticket.mergedIntoID) ?? ticket
    }
}
