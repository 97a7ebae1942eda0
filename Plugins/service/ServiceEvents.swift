import CRMPluginKit
import ServiceContract

/// Publishes service.ticket.* in the call's transaction. Each event carries
/// an About naming the requester and the organization, so contacts files
/// it on their timelines, and is published about the ticket with its
/// assignee as owner (crmd streams it by scope and empties it on erasure).
enum ServiceEvents {
    static func publish(_ ctx: CallContext, _ action: String, _ ticket: Ticket, summary: String,
                        configure: (inout Crm_Service_V1_TicketEvent) -> Void = { _ in }) throws {
        var event = Crm_Service_V1_TicketEvent()
        event.ticket = ticket
        var about = About()
        if ticket.requesterID > 0 { about.personIds = [ticket.requesterID] }
        if ticket.organizationID > 0 { about.organizationIds = [ticket.organizationID] }
        about.summary = "Ticket #\(ticket.id) \"\(ticket.subject.prefix(120))\" \(summary)"
        event.about = about
        configure(&event)
        try ctx.publish("service.ticket.\(action)", event,
                        about: EventSubject(entity: "service.ticket", recordID: String(ticket.id), owner: ownerOrNil(ticket.assignee)))
    }

    static func statusName(_ status: TicketStatus) -> String {
        switch status {
        case .new: return "new"
        case .open: return "open"
        case .pending: return "pending"
        case .onHold: return "on hold"
        case .solved: return "solved"
        case .closed: return "closed"
        default: return "unknown"
        }
    }

    /// The .proto's name of a status, for messages.
    static func protoName(_ status: TicketStatus) -> String {
        switch status {
        case .onHold: return "ON_HOLD"
        case .unspecified: return "TICKET_STATUS_UNSPECIFIED"
        default: return "\(status)".uppercased()
        }
    }
}
