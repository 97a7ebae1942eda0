import CRMPluginKit
import ContactsContract
import ContactsLinkKit
import ServiceContract
import SwiftProtobuf

/// ApplyMacro (one ticket, one transaction) and ApplyMacroToTickets (each
/// ticket by an in-process ApplyMacro in a savepoint of its own, so one
/// failure rolls back that ticket alone). A keyed call's answer is kept in
/// service_macro_runs, so a retry gets the first answer, per-ticket
/// failures included. Kept without the tickets' and messages' contents
/// (their ids only, filled in again on a retry): a run must not keep what
/// an erasure blanks.
enum MacroApply {
    static let ticketPermission = "service.ticket.write"

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "ApplyMacro", applyOne)
        def.unary(Service.service + "ApplyMacroToTickets", applyMany)
    }

    static func storedRun<M: Message>(_ db: Database, _ id: Int64, as type: M.Type) throws -> M {
        guard let bytes = try db.query("SELECT response FROM service_macro_runs WHERE id = ?", [.integer(id)]).first?[0].bytes else {
            throw PluginError(.internal, "macro run \(id) is missing")
        }
        return try M(serializedBytes: bytes)
    }

    static func keepRun(_ db: Database, _ response: some Message) throws -> Int64 {
        try db.execute("INSERT INTO service_macro_runs (response, created_us) VALUES (?, ?)",
                       [.blob(try response.serializedBytes()), .integer(UTCClock.nowMicros())]).lastInsertID
    }

    /// A ticket and message reduced to their ids, and filled in again.
    static func ids(_ t: Ticket, _ m: TicketMessage?) -> (Ticket, TicketMessage?) {
        (Ticket.with { $0.id = t.id }, m.map { m in TicketMessage.with { $0.id = m.id } })
    }

    /// As they are now, for a retry by `scope`: a ticket it cannot read
    /// means another caller's key (as CreateTicket's retry says).
    static func filled(_ db: Database, _ t: Ticket, _ m: TicketMessage?, _ scope: RecordScope, method: String,
                       key: String) throws -> (Ticket, TicketMessage?) {
        guard let ticket = try TicketStore(db: db).load(t.id), try TicketScope.reaches(db, scope, ticket) else {
            throw IdempotencyKeys.mismatch(method: method, key: key)
        }
        let message = try m.map { try MessageStore(db: db).load($0.id) ?? $0 }
        return (ticket, message)
    }

    static func keepOne(_ db: Database, _ r: Crm_Service_V1_ApplyMacroResponse) throws -> Int64 {
        var kept = r
        let (t, m) = ids(r.ticket, r.hasMessage ? r.message : nil)
        kept.ticket = t
        if let m { kept.message = m }
        return try keepRun(db, kept)
    }

    static func fillOne(_ db: Database, _ r: Crm_Service_V1_ApplyMacroResponse, _ scope: RecordScope,
                        key: String) throws -> Crm_Service_V1_ApplyMacroResponse {
        var out = r
        let (t, m) = try filled(db, r.ticket, r.hasMessage ? r.message : nil, scope, method: "ApplyMacro", key: key)
        out.ticket = t
        if let m { out.message = m }
        return out
    }

    static func applyOne(_ ctx: CallContext, _ req: Crm_Service_V1_ApplyMacroRequest) throws -> Crm_Service_V1_ApplyMacroResponse {
        try Validate.positiveID(req.macroID, "macro_id")
        try Validate.positiveID(req.ticketID, "ticket_id")
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "ApplyMacro", req, key: \.idempotencyKey)
        if let id = previous {
            return try fillOne(db, try storedRun(db, id, as: Crm_Service_V1_ApplyMacroResponse.self), ctx.scope(for: ticketPermission),
                               key: req.idempotencyKey)
        }
        let macro = try Macros.require(db, req.macroID, "macro_id")
        let response = try apply(ctx, db, macro, ticketID: req.ticketID)
        if claim != nil { try Service.idempotency.record(db, claim, resultID: try keepOne(db, response)) }
        return response
    }

    static func applyMany(_ ctx: CallContext, _ req: Crm_Service_V1_ApplyMacroToTicketsRequest) throws
        -> Crm_Service_V1_ApplyMacroToTicketsResponse {
        try Validate.positiveID(req.macroID, "macro_id")
        guard !req.ticketIds.isEmpty else { throw PluginError.invalidArgument("ticket_ids: at least one ticket is required") }
        guard req.ticketIds.count <= 100 else { throw PluginError.invalidArgument("ticket_ids has more than 100 entries") }
        for (i, id) in req.ticketIds.enumerated() {
            try Validate.positiveID(id, "ticket_ids[\(i)]")
            if req.ticketIds[..<i].contains(id) { throw PluginError.invalidArgument("ticket_ids[\(i)] repeats ticket \(id)") }
        }
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "ApplyMacroToTickets", req, key: \.idempotencyKey)
        if let id = previous {
            var stored = try storedRun(db, id, as: Crm_Service_V1_ApplyMacroToTicketsResponse.self)
            for i in stored.results.indices where stored.results[i].code == 0 {
                let (t, m) = try filled(db, stored.results[i].ticket, stored.results[i].hasMessage ? stored.results[i].message : nil,
                                        ctx.scope(for: ticketPermission), method: "ApplyMacroToTickets", key: req.idempotencyKey)
                stored.results[i].ticket = t
                if let m { stored.results[i].message = m }
            }
            return stored
        }
        _ = try Macros.require(db, req.macroID, "macro_id")
        var response = Crm_Service_V1_ApplyMacroToTicketsResponse()
        for id in req.ticketIds {
            var result = Crm_Service_V1_MacroResult()
            result.ticketID = id
            let one = Crm_Service_V1_ApplyMacroRequest.with { $0.macroID = req.macroID; $0.ticketID = id }
            do {
                let bytes = try ctx.host.invoke(Service.service + "ApplyMacro", request: try one.serializedBytes(), parent: ctx)
                let applied = try Crm_Service_V1_ApplyMacroResponse(serializedBytes: bytes)
                result.ticket = applied.ticket
                if applied.hasMessage { result.message = applied.message }
                response.applied += 1
            } catch let error as PluginError {
                result.code = error.status.rawValue
                result.error = error.message
                response.failed += 1
            }
            response.results.append(result)
        }
        if claim != nil {
            var kept = response
            for i in kept.results.indices where kept.results[i].code == 0 {
                let (t, m) = ids(kept.results[i].ticket, kept.results[i].hasMessage ? kept.results[i].message : nil)
                kept.results[i].ticket = t
                if let m { kept.results[i].message = m }
            }
            try Service.idempotency.record(db, claim, resultID: try keepRun(db, kept))
        }
        return response
    }

    /// The macro's actions on one ticket (the .proto's ApplyMacro comment
    /// gives the order): fields and assignment, then the message, then a
    /// status the message did not set.
    static func apply(_ ctx: CallContext, _ db: Database, _ macro: Macro, ticketID: Int64) throws -> Crm_Service_V1_ApplyMacroResponse {
        let scope = ctx.scope(for: ticketPermission)
        let store = TicketStore(db: db)
        let requested = try store.require(ticketID, field: "ticket_id", writableIn: scope)
        var ticket = try store.resolved(requested)
        if ticket.id != requested.id, try !TicketScope.reaches(db, scope, ticket) {
            throw PluginError(.permissionDenied, "ticket_id: ticket \(ticketID) was merged into ticket \(ticket.id), which is outside your record scope")
        }
        if ticket.status == .closed { throw PluginError.failedPrecondition("ticket_id: ticket \(ticket.id) is closed; closed is final") }
        let a = macro.actions
        let why = " by macro \"\(macro.name.prefix(60))\""
        let before = ticket
        if a.priority != .unspecified { ticket.priority = a.priority }
        if !a.addTags.isEmpty || !a.removeTags.isEmpty {
            ticket.tags = Set(ticket.tags).union(a.addTags).subtracting(a.removeTags).sorted()
            guard ticket.tags.count <= 50 else {
                throw PluginError.failedPrecondition("ticket_id: ticket \(ticket.id) would have more than 50 tags")
            }
        }
        var assignee = ticket.assignee, team = ticket.team
        if !a.team.isEmpty && a.team != team {
            team = a.team
            assignee = ""  // moved to another team's queue unless the macro names who takes it
        }
        if a.unassign { assignee = "" }
        if !a.assignee.isEmpty { assignee = a.assignee }
        if a.assignToCaller {
            guard let user = ctx.user else { throw PluginError.failedPrecondition("assign_to_caller: the caller is no CRM user") }
            assignee = user
        }
        if assignee != ticket.assignee || team != ticket.team {
            if !assignee.isEmpty { _ = try scope.owner(for: assignee, "ticket \(ticket.id)") }
            try Teams.checkPlacement(db, assignee: assignee, team: team, field: "macro.actions.")
            ticket.assignee = assignee
            ticket.team = team
            try TicketScope.checkResult(db, scope, ticket, "ticket \(ticket.id)")
        }
        try TicketChanges.commit(ctx, db, &ticket, before: before, action: "macro", source: .macro, why: why)

        var response = Crm_Service_V1_ApplyMacroResponse()
        var statusDone = a.status == .unspecified || a.status == ticket.status
        if a.messageKind != .unspecified {
            let template: MacroTemplate
            do {
                template = try MacroTemplate.compile(a.messageTemplate, field: "message_template", customFields: try Macros.customFieldKeys(db))
            } catch let error as PluginError where error.status == .invalidArgument {
                throw PluginError.failedPrecondition("macro \(macro.id) no longer renders: \(error.message)")
            }
            let text = template.render(try MacroFields.values(ctx, ticket, uses: template.fields))
            let body = text.trimmedSpacesAndNewlines
            guard !body.isEmpty else { throw PluginError.failedPrecondition("macro \(macro.id) renders an empty message for ticket \(ticket.id)") }
            guard body.utf8.count <= TicketValidation.maxBody else {
                throw PluginError.failedPrecondition("macro \(macro.id) renders a message over 64 KiB for ticket \(ticket.id)")
            }
            let withStatus: TicketStatus = [TicketStatus.open, .pending, .onHold, .solved].contains(a.status) && !statusDone ? a.status : .unspecified
            let outcome = try TicketMessages.post(ctx, db, ticketID: ticket.id, field: "ticket_id", kind: a.messageKind, author: .agent,
                                                  body: body, status: withStatus, scope: scope)
            ticket = outcome.ticket
            response.message = outcome.message
            if withStatus != .unspecified { statusDone = true }
        }
        if !statusDone && a.status != ticket.status {
            guard TicketWorkflow.allowed(from: ticket.status, to: a.status) else {
                throw PluginError.failedPrecondition("status: ticket \(ticket.id) cannot go from "
                    + "\(ServiceEvents.protoName(ticket.status)) to \(ServiceEvents.protoName(a.status))")
            }
            let b = ticket
            TicketWorkflow.move(&ticket, to: a.status, now: UTCClock.nowMicros())
            try TicketChanges.commit(ctx, db, &ticket, before: b, action: "macro", source: .macro, why: why)
        }
        response.ticket = ticket
        response.macroVersion = macro.version
        return response
    }
}

/// The values a macro's template merges for one ticket. People and
/// organizations are read from contacts (with the caller's rights) only
/// when the template names them; an empty value is left out, so a section
/// on it does not render.
enum MacroFields {
    static func values(_ ctx: CallContext, _ t: Ticket, uses fields: [String]) throws -> [String: Any] {
        func put(_ dict: inout [String: Any], _ key: String, _ value: String) {
            let trimmed = value.trimmedSpacesAndNewlines
            if !trimmed.isEmpty { dict[key] = trimmed }
        }
        var ticket: [String: Any] = [:]
        put(&ticket, "id", String(t.id))
        put(&ticket, "subject", t.subject)
        put(&ticket, "status", ServiceEvents.protoName(t.status))
        put(&ticket, "priority", t.priority == .unspecified ? "" : "\(t.priority)".uppercased())
        put(&ticket, "channel", t.channel == .unspecified ? "" : "\(t.channel)".uppercased())
        put(&ticket, "type", t.type == .unspecified ? "" : "\(t.type)".uppercased())
        put(&ticket, "team", t.team)
        put(&ticket, "assignee", t.assignee)
        var custom: [String: Any] = [:]
        for (key, value) in t.customFields { put(&custom, key, value) }
        if !custom.isEmpty { ticket["fields"] = custom }
        var root: [String: Any] = ["ticket": ticket]
        if let user = ctx.user { root["agent"] = ["name": user] }
        if fields.contains(where: { $0.hasPrefix("requester") }) {
            let person = try ContactsLink.requirePerson(ctx, t.requesterID, field: "ticket.requester_id")
            var p: [String: Any] = [:]
            put(&p, "first_name", person.firstName)
            put(&p, "last_name", person.lastName)
            put(&p, "name", [person.firstName.trimmedSpacesAndNewlines, person.lastName.trimmedSpacesAndNewlines]
                .filter { !$0.isEmpty }.joined(separator: " "))
            put(&p, "email", person.emails.first?.address ?? "")
            root["requester"] = p
        }
        if fields.contains(where: { $0.hasPrefix("organization") }), t.organizationID > 0 {
            var organization: Organization?
            do {
                organization = try ContactsLink.organization(ctx, t.organizationID)
            } catch let error as PluginError where error.status == .permissionDenied {
                organization = nil
            }
            if let organization, organization.deletedUnixUs == 0 {
                var o: [String: Any] = [:]
                put(&o, "name", organization.name)
                if !o.isEmpty { root["organization"] = o }
            }
        }
        return root
    }
}
