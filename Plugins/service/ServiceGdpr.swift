import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// Service's part of a GDPR export: the tickets the person requested, each
/// with every message on it (internal notes too: they are data about the
/// person, and the export goes to whoever handles the request, not to the
/// portal), the customer messages they wrote on other tickets, and the
/// email they sent (its record: sender, subject, outcome). Only
/// tickets in the caller's service.person.gdpr_export scope.
enum ServiceGdpr {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "ExportPersonData", exportData)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_ModuleData {
        try Validate.positiveID(req.personID, "person_id")
        let db = try ctx.database
        let scope = ctx.scope
        var data = Crm_Contacts_V1_ModuleData()
        data.module = "service"
        func add(_ message: some Message) {
            data.records.append(.with {
                $0.typeName = type(of: message).protoMessageName
                $0.payload = (try? message.serializedData()) ?? Data()
            })
        }
        var tickets = SQLFilter()
        tickets.add("requester_id = ?", .integer(req.personID))
        TicketScope.apply(scope, to: &tickets)
        var own = Set<Int64>()
        for row in try db.query("SELECT \(TicketStore.columns) FROM service_tickets \(tickets.clause) ORDER BY id", tickets.parameters) {
            let ticket = TicketStore.decode(row)
            own.insert(ticket.id)
            add(ticket)
            for message in try db.query("SELECT \(MessageStore.columns) FROM service_messages WHERE ticket_id = ? ORDER BY id",
                                        [.integer(ticket.id)]) {
                add(MessageStore.decode(message))
            }
            for invitation in try SurveyPeople.export(db, ticketID: ticket.id) { add(invitation) }
        }
        var elsewhere = SQLFilter()
        elsewhere.add("m.author_person_id = ?", .integer(req.personID))
        TicketScope.apply(scope, to: &elsewhere, prefix: "t.")
        for row in try db.query("""
            SELECT \(MessageStore.columns.split(separator: ",").map { "m." + $0.trimmedSpaces }.joined(separator: ", "))
            FROM service_messages m JOIN service_tickets t ON t.id = m.ticket_id \(elsewhere.clause) ORDER BY m.id
            """, elsewhere.parameters) {
            let message = MessageStore.decode(row)
            if !own.contains(message.ticketID) { add(message) }
        }
        for email in try MailStore(db: db).sent(by: req.personID) where try MailLog.reaches(db, scope, email) {
            add(email)
        }
        return data
    }
}
