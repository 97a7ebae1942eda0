import CRMPluginKit
import ServiceContract

/// The audit trail of service's writes: one entry per record a write
/// changes, in its transaction, with each changed field's old and new
/// value under the .proto's field names ("" or 0 is no value). Versions
/// and bookkeeping times are left out: the entry's own time says them.
enum ServiceAudit {
    static func ticket(_ ctx: CallContext, _ action: String, old: Ticket?, new: Ticket) throws {
        try ctx.audit(AuditEntry(entity: "service.ticket", recordID: String(new.id), action: action, owner: ownerOrNil(new.assignee),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func message(_ ctx: CallContext, _ action: String, old: TicketMessage?, new: TicketMessage, owner: String) throws {
        try ctx.audit(AuditEntry(entity: "service.message", recordID: String(new.id), action: action, owner: ownerOrNil(owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func link(_ ctx: CallContext, _ action: String, _ link: Crm_Service_V1_TicketLink, owner: String) throws {
        let record = "\(link.ticketID)-\(link.kind)-\(link.otherID)"
        let values = ["ticket_id": String(link.ticketID), "kind": "\(link.kind)", "other_id": String(link.otherID)]
        try ctx.audit(AuditEntry(entity: "service.link", recordID: record, action: action, owner: ownerOrNil(owner),
                                 changes: FieldChange.between(old: action == "unlink" ? values : [:],
                                                              new: action == "unlink" ? [:] : values)))
    }

    /// An inbound email as filed (its sender and subject are the person's
    /// data: erasure redacts the entry).
    static func inboundEmail(_ ctx: CallContext, _ e: InboundEmail) throws {
        let changes = values([
            ("message_id", e.messageID), ("from_address", e.fromAddress), ("subject", e.subject),
            ("outcome", name(e.outcome.rawValue, "\(e.outcome)")), ("reason", e.reason), ("ticket_id", id(e.ticketID)),
            ("person_id", id(e.personID)),
        ])
        try ctx.audit(AuditEntry(entity: "service.inbound_email", recordID: String(e.id), action: "receive",
                                 changes: FieldChange.between(old: [:], new: changes)))
    }

    static func fields(_ t: Ticket) -> [String: String] {
        values([
            ("subject", t.subject), ("description", t.description_p), ("requester_id", id(t.requesterID)),
            ("organization_id", id(t.organizationID)), ("channel", name(t.channel.rawValue, "\(t.channel)")),
            ("type", name(t.type.rawValue, "\(t.type)")), ("priority", name(t.priority.rawValue, "\(t.priority)")),
            ("status", t.status == .unspecified ? "" : ServiceEvents.protoName(t.status)), ("tags", t.tags.joined(separator: ", ")),
            ("custom_fields", t.customFields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")),
            ("assignee", t.assignee), ("team", t.team), ("followers", t.followers.joined(separator: ", ")),
            ("merged_into_id", id(t.mergedIntoID)), ("follow_up_of_id", id(t.followUpOfID)),
        ])
    }

    static func fields(_ m: TicketMessage) -> [String: String] {
        values([
            ("ticket_id", id(m.ticketID)), ("original_ticket_id", id(m.originalTicketID)),
            ("kind", name(m.kind.rawValue, "\(m.kind)")), ("author_kind", name(m.authorKind.rawValue, "\(m.authorKind)")),
            ("author_user", m.authorUser), ("author_person_id", id(m.authorPersonID)), ("body", m.body),
        ])
    }

    private static func values(_ pairs: [(String, String)]) -> [String: String] {
        Dictionary(pairs.filter { !$0.1.isEmpty }, uniquingKeysWith: { first, _ in first })
    }

    private static func id(_ value: Int64) -> String { value == 0 ? "" : String(value) }
    private static func name(_ raw: Int, _ text: String) -> String { raw == 0 ? "" : text.uppercased() }
}
