import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Replies and notes, what they do to a ticket, and the requester's view.
@Suite struct ServiceMessageTests {
    @Test func anAgentsPublicReplyOpensTheTicketAndStampsTheFirstResponseOnce() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.ana.create("Cannot log in", requester: ada, team: "billing")
        #expect(t.status == .new && t.assignee.isEmpty, "ana is on billing's roster: the ticket stays in the queue")
        let note = try await world.ana.reply(t.id, "checking the logs", kind: .internal)
        #expect(note.ticket.status == .new && note.ticket.firstResponseUnixUs == 0, "a note is no response")
        let first = try await world.ana.reply(t.id, "Please reset your password")
        #expect(first.ticket.status == .open && first.ticket.firstResponseUnixUs == first.message.createdUnixUs)
        #expect(first.message.authorUser == "ana" && first.message.authorKind == .agent && first.message.kind == .public)
        let second = try await world.ana.reply(t.id, "Any luck?", status: .pending)
        #expect(second.ticket.status == .pending)
        #expect(second.ticket.firstResponseUnixUs == first.ticket.firstResponseUnixUs, "the first response stays the first")
        #expect(second.ticket.lastAgentReplyUnixUs == second.message.createdUnixUs)
        let list = try await world.ana.messages(t.id, pageSize: 2)
        #expect(list.messages.map(\.body) == ["checking the logs", "Please reset your password"])
        let rest = try await world.ana.messages(t.id, token: list.nextPageToken)
        #expect(rest.messages.map(\.body) == ["Any luck?"] && rest.nextPageToken.isEmpty)
    }

    @Test func aCustomerReplyReopensWithinTheWindowAndResumesPendingOrOnHold() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Charged twice", requester: ada)
        _ = try await world.admin.setStatus(t.id, .pending)
        #expect(try await world.admin.reply(t.id, "here is the receipt", author: .customer).ticket.status == .open)
        _ = try await world.admin.setStatus(t.id, .onHold)
        #expect(try await world.admin.reply(t.id, "any news?", author: .customer).ticket.status == .open)
        _ = try await world.admin.setStatus(t.id, .solved)
        let reopened = try await world.admin.reply(t.id, "it happened again", author: .customer)
        #expect(!reopened.followUp && reopened.ticket.id == t.id)
        #expect(reopened.ticket.status == .open && reopened.ticket.reopenCount == 1)
        #expect(reopened.ticket.lastCustomerReplyUnixUs == reopened.message.createdUnixUs)
        #expect(reopened.message.authorPersonID == ada && reopened.message.authorUser.isEmpty)
    }

    @Test func aReplyAfterTheWindowOrToAClosedTicketOpensAFollowUpAndNeverReopens() async throws {
        // A window of 0: every customer reply after the solve is late.
        let world = try await ServiceWorld.start(environment: ["CRM_PLUGIN_SERVICE_REOPEN_WINDOW_SECONDS": "0"])
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("VPN down", requester: ada, priority: .high, tags: ["vpn"], team: "tech")
        _ = try await world.admin.setStatus(t.id, .solved)
        let late = try await world.admin.reply(t.id, "down again", author: .customer)
        #expect(late.followUp)
        #expect(late.ticket.id != t.id && late.ticket.followUpOfID == t.id && late.ticket.status == .new)
        #expect(late.ticket.requesterID == ada && late.ticket.priority == .high && late.ticket.tags == ["vpn"])
        #expect(late.ticket.team == "tech" && late.message.ticketID == late.ticket.id)
        #expect(try await world.admin.get(t.id).status == .closed, "the solved ticket closed when its window had passed")
        let links = try await world.admin.links(late.ticket.id).links
        #expect(links.map(\.kind) == [.related] && links.map(\.otherID) == [t.id])
        let again = try await world.admin.reply(t.id, "still down", author: .customer)
        #expect(again.followUp && again.ticket.id != late.ticket.id && again.ticket.followUpOfID == t.id)
        let closed = try await world.admin.get(t.id)
        #expect(closed.status == .closed && closed.reopenCount == 0, "a closed ticket never reopens")
        #expect(try await world.admin.messages(t.id).messages.isEmpty)
    }

    @Test func messageInputsAreCheckedAndARetriedReplyIsWrittenOnce() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Question", requester: ada)
        let admin = world.admin
        await expectRPCError(.invalidArgument, mentioning: "body is required") { try await admin.reply(t.id, "  \n") }
        await expectRPCError(.invalidArgument, mentioning: "body is longer than 65536") {
            try await admin.reply(t.id, String(repeating: "b", count: 65_537))
        }
        await expectRPCError(.invalidArgument, mentioning: "kind is required") { try await admin.reply(t.id, "x", kind: .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "author_kind is required") {
            try await admin.reply(t.id, "x", author: .unspecified)
        }
        await expectRPCError(.invalidArgument, mentioning: "a CUSTOMER message is PUBLIC") {
            try await admin.reply(t.id, "x", kind: .internal, author: .customer)
        }
        await expectRPCError(.invalidArgument, mentioning: "only an AGENT message may set the status") {
            try await admin.reply(t.id, "x", author: .customer, status: .open)
        }
        await expectRPCError(.invalidArgument, mentioning: "a message may leave its ticket OPEN, PENDING, ON_HOLD or SOLVED") {
            try await admin.reply(t.id, "x", status: .closed)
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket_id is required") { try await admin.reply(0, "x") }
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket 999 does not exist") { try await admin.reply(999, "x") }
        let first = try await admin.reply(t.id, "Hello", key: "r-1")
        let retry = try await admin.reply(t.id, "Hello", key: "r-1")
        #expect(retry.message == first.message && retry.ticket.id == t.id)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"r-1\" was already used") {
            try await admin.reply(t.id, "Hello again", key: "r-1")
        }
        #expect(try await admin.messages(t.id).messages.map(\.body) == ["Hello"])
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token this list returned") {
            try await admin.messages(t.id, token: "garbage")
        }
    }

    @Test func theRequesterSeesTheirTicketsAndPublicRepliesButNeverAnInternalNote() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let bea = try await world.person("Bea", "Baker")
        let opened = try await world.pat.requesterCreate(ada, "Where is my order?", description: "Order 1138", team: "billing",
                                                         key: "p-1")
        #expect(opened.channel == .web && opened.status == .new)
        #expect(try await world.pat.requesterCreate(ada, "Where is my order?", description: "Order 1138", team: "billing",
                                                    key: "p-1").id == opened.id)
        let ticket = try await world.ana.get(opened.id)
        #expect(ticket.assignee.isEmpty && ticket.team == "billing", "the portal's ticket waits in the team queue")
        try await world.ana.reply(opened.id, "It ships tomorrow")
        try await world.ana.reply(opened.id, "secret-xyz: customer is on the fraud watch list", kind: .internal)
        let seen = try await world.pat.requesterTicket(ada, opened.id)
        #expect(seen.messages.map(\.body) == ["It ships tomorrow"])
        let seenJSON = try seen.jsonString()
        #expect(!seenJSON.contains("secret-xyz"))
        let mine = try await world.pat.requesterTickets(ada)
        #expect(mine.tickets.map(\.id) == [opened.id] && mine.tickets[0].messages.isEmpty)
        #expect(try await world.pat.requesterTickets(bea).tickets.isEmpty)
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(opened.id) does not exist") {
            try await world.pat.requesterTicket(bea, opened.id)
        }
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(opened.id) does not exist") {
            try await world.pat.requesterReply(bea, opened.id, "let me in")
        }
        _ = try await world.ana.setStatus(opened.id, .solved)
        let replied = try await world.pat.requesterReply(ada, opened.id, "It did not arrive", key: "pr-1")
        #expect(replied.id == opened.id && replied.status == .open && !replied.followUp)
        #expect(replied.messages.map(\.body) == ["It ships tomorrow", "It did not arrive"])
        #expect(try await world.pat.requesterReply(ada, opened.id, "It did not arrive", key: "pr-1").messages.count == 2)
        await expectRPCError(.permissionDenied, mentioning: "lacks permission service.ticket.read") { try await world.pat.get(opened.id) }
        await expectRPCError(.permissionDenied, mentioning: "lacks permission service.ticket.read") {
            try await world.pat.messages(opened.id)
        }

        // The customer timeline has the note's event, without its body.
        let entries = try await world.contacts.timeline(person: ada, atLeast: 6)
        let topics = Set(entries.map(\.topic))
        #expect(topics.isSuperset(of: ["service.ticket.created", "service.ticket.replied", "service.ticket.noted",
                                      "service.ticket.status_changed"]))
        for entry in entries where entry.topic.hasPrefix("service.") {
            let event = try Crm_Service_V1_TicketEvent(serializedBytes: entry.payload)
            #expect(event.ticket.id == opened.id && event.about.personIds == [ada])
            let json = try event.jsonString()
            #expect(!entry.summary.contains("secret-xyz") && !json.contains("secret-xyz"))
        }
    }
}
