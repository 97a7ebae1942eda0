import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import ServiceTestClient
import Testing

/// Email to ticket over the socket: real RFC 5322 bytes read by GMime in
/// the plugin, filed as the mail server's gateway user would.
@Suite struct ServiceEmailTests {
    /// The world plus `gw`, a user with the service_mail_gateway role.
    static func start() async throws -> (ServiceWorld, MailClient) {
        let world = try await ServiceWorld.start()
        try await AccessSupport.createUser(world.crmd, "gw", roles: ["service_mail_gateway"])
        return (world, MailClient(connection: world.connection, metadata: AccessSupport.actingAs("gw")))
    }

    @Test func aNewMessageOpensATicketForANewSenderAndTheSameMessageAgainChangesNothing() async throws {
        let (world, gw) = try await Self.start()
        // An encoded-word subject and a quoted-printable body: GMime decodes both.
        let raw = rawMail(from: "Grace Hopper <Grace@Navy.example>", subject: "=?UTF-8?B?UHJpbnRlciBvbiBmaXJlIOKAlCBoZWxw?=",
                          messageID: "m1@navy.example", body: "The printer is on fire =E2=80=94 again.=\r\nPlease help.",
                          encoding: "quoted-printable")
        let first = try await gw.ingest(raw)
        #expect(first.email.outcome == .newTicket && first.email.personCreated && !first.duplicate)
        #expect(first.email.fromAddress == "grace@navy.example" && first.email.messageID == "m1@navy.example")
        let ticket = first.ticket
        #expect(ticket.subject == "Printer on fire — help" && ticket.channel == .email)
        #expect(ticket.description_p == "The printer is on fire — again.Please help.")
        let person = try await world.contacts.getPerson(ticket.requesterID)
        #expect(person.firstName == "Grace" && person.lastName == "Hopper" && person.emails.map(\.address) == ["grace@navy.example"])

        let again = try await gw.ingest(raw)
        #expect(again.duplicate && again.email.id == first.email.id && again.ticket.id == ticket.id)
        let all = try await gw.list()
        #expect(all.emails.count == 1, "a mail server's redelivery files nothing new")
        let people = try await world.contacts.search("grace@navy.example", .email).people
        #expect(people.count == 1)
    }

    @Test func aKnownSenderIsFoundByAddressWhateverItsCase() async throws {
        let (world, gw) = try await Self.start()
        let ada = try await world.person("Ada", "Lovelace")
        let filed = try await gw.ingest(rawMail(from: "ADA@Example.COM", subject: "Invoice", messageID: "a1@example.com"))
        #expect(filed.email.outcome == .newTicket && !filed.email.personCreated && filed.email.personID == ada)
        #expect(filed.ticket.requesterID == ada)
    }

    @Test func repliesThreadByInReplyToReferencesOrTheSubjectTokenAndReopen() async throws {
        let (world, gw) = try await Self.start()
        let opened = try await gw.ingest(rawMail(from: "Ada <ada@example.com>", subject: "VPN down", messageID: "v1@example.com"))
        let ticketID = opened.ticket.id
        let answer = try await world.admin.reply(ticketID, "Try reconnecting", status: .pending)
        let headers = try await gw.prepareReply(answer.message.id)
        #expect(headers.toAddress == "ada@example.com" && headers.inReplyTo == "<v1@example.com>")
        #expect(headers.subject.hasPrefix("Re: VPN down [#\(ticketID)-") && headers.messageID.hasSuffix("@crm.invalid>"))
        #expect(try await gw.prepareReply(answer.message.id).messageID == headers.messageID, "one message, one Message-ID")

        let byInReplyTo = try await gw.ingest(rawMail(
            from: "ada@example.com", subject: headers.subject, messageID: "v2@example.com", inReplyTo: headers.messageID,
            body: "Still down.\r\n\r\nOn Tue, 1 Dec 2026, Support wrote:\r\n> Try reconnecting"))
        #expect(byInReplyTo.email.outcome == .reply && byInReplyTo.email.threadedBy == .inReplyTo)
        #expect(byInReplyTo.ticket.id == ticketID && byInReplyTo.ticket.status == .open, "a customer reply resumes a pending ticket")
        #expect(byInReplyTo.message.body == "Still down.", "the quoted history is cut")
        #expect(byInReplyTo.message.authorKind == .customer && byInReplyTo.message.authorPersonID == opened.ticket.requesterID)

        let byReferences = try await gw.ingest(rawMail(
            from: "ada@example.com", subject: "more", messageID: "v3@example.com",
            references: "<unknown@elsewhere.example> <v1@example.com>"))
        #expect(byReferences.email.threadedBy == .references && byReferences.ticket.id == ticketID)

        let token = String(headers.subject.drop { $0 != "[" })
        let bySubject = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Fwd: \(token)", messageID: "v4@example.com"))
        #expect(bySubject.email.threadedBy == .subjectToken && bySubject.ticket.id == ticketID)

        let forged = try await gw.ingest(rawMail(from: "eve@example.com", subject: "[#\(ticketID)-aaaaaaaaaa]", messageID: "e1@example.com"))
        #expect(forged.email.outcome == .newTicket && forged.ticket.id != ticketID, "a token that is not the ticket's threads nothing")
        let onTicket = try await gw.list(ticket: ticketID)
        #expect(onTicket.emails.map(\.messageID) == ["v4@example.com", "v3@example.com", "v2@example.com", "v1@example.com"])
    }

    @Test func aReplyToAClosedTicketOpensAFollowUp() async throws {
        let (world, gw) = try await Self.start()
        let opened = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Refund", messageID: "r1@example.com"))
        _ = try await world.admin.setStatus(opened.ticket.id, .solved)
        _ = try await world.admin.setStatus(opened.ticket.id, .closed)
        let reply = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Re: Refund", messageID: "r2@example.com",
                                                inReplyTo: "<r1@example.com>"))
        #expect(reply.email.outcome == .reply && reply.email.followUp)
        #expect(reply.ticket.id != opened.ticket.id && reply.ticket.followUpOfID == opened.ticket.id)
    }

    @Test func automaticRepliesNeverOpenOrReopenATicket() async throws {
        let (world, gw) = try await Self.start()
        let opened = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Laptop", messageID: "l1@example.com"))
        let answer = try await world.admin.reply(opened.ticket.id, "Fixed, closing", status: .solved)
        let headers = try await gw.prepareReply(answer.message.id)
        let vacation = try await gw.ingest(rawMail(
            from: "ada@example.com", subject: "Out of office: \(headers.subject)", messageID: "oof1@example.com",
            inReplyTo: headers.messageID, headers: ["Auto-Submitted: auto-replied"], body: "I am away until Monday."))
        #expect(vacation.email.outcome == .autoReplyNoted && vacation.ticket.status == .solved, "the ticket stays solved")
        #expect(vacation.message.authorKind == .system && vacation.message.kind == .internal)
        #expect(vacation.message.body.contains("I am away until Monday."))
        let ticket = try await world.admin.get(opened.ticket.id)
        #expect(ticket.lastCustomerReplyUnixUs == 0 && ticket.reopenCount == 0, "no clock moved")

        let exchange = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Automatic reply", messageID: "oof2@example.com",
                                                   headers: ["Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All"]))
        #expect(exchange.email.outcome == .autoReplyIgnored && exchange.email.ticketID == 0)
        #expect(exchange.email.personID == opened.ticket.requesterID, "a known sender's ignored mail is still theirs")
        let suppressOnly = try await gw.ingest(rawMail(from: "bea@example.com", subject: "Question", messageID: "q1@example.com",
                                                       headers: ["X-Auto-Response-Suppress: All"]))
        #expect(suppressOnly.email.outcome == .newTicket, "asking others not to auto-reply is ordinary mail")
        let list = try await gw.ingest(rawMail(from: "cy@example.com", subject: "Via the group", messageID: "g1@lists.example",
                                               headers: ["Precedence: list", "List-Id: <support.acme.example>"]))
        #expect(list.email.outcome == .newTicket, "a support address may be a list: its mail is the customers'")
        let bulk = try await gw.ingest(rawMail(from: "news@shop.example", subject: "Our sale", messageID: "b1@shop.example",
                                               headers: ["Precedence: bulk"]))
        #expect(bulk.email.outcome == .autoReplyIgnored)
        let explicitNo = try await gw.ingest(rawMail(from: "dee@example.com", subject: "Help", messageID: "h1@example.com",
                                                     headers: ["Auto-Submitted: no"]))
        #expect(explicitNo.email.outcome == .newTicket, "Auto-Submitted: no is a person writing")
    }

    @Test func aBounceIsNotedOnItsTicketAndNeverOpensOne() async throws {
        let (world, gw) = try await Self.start()
        let opened = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Password", messageID: "p1@example.com"))
        let answer = try await world.admin.reply(opened.ticket.id, "Here is a reset link", status: .pending)
        let headers = try await gw.prepareReply(answer.message.id)
        let report = [
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>", "To: support@acme.example",
            "Subject: Undelivered Mail Returned to Sender", "Message-ID: <bounce1@mx.example.com>",
            "Date: Tue, 01 Dec 2026 10:05:00 +0000", "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"", "",
            "--B", "Content-Type: text/plain", "", "Your message could not be delivered.", "",
            "--B", "Content-Type: message/delivery-status", "",
            "Reporting-MTA: dns; mx.example.com", "", "Final-Recipient: rfc822; ada@example.com", "Action: failed",
            "Status: 5.1.1", "",
            "--B", "Content-Type: text/rfc822-headers", "",
            "From: support@acme.example", "To: ada@example.com", "Subject: \(headers.subject)", "Message-ID: \(headers.messageID)", "",
            "--B--", "",
        ].joined(separator: "\r\n")
        let bounce = try await gw.ingest(report)
        #expect(bounce.email.outcome == .bounceNoted && bounce.email.ticketID == opened.ticket.id)
        #expect(bounce.email.reason == "ada@example.com: 5.1.1")
        #expect(bounce.message.authorKind == .system && bounce.message.body.contains("ada@example.com")
                && bounce.message.body.contains("5.1.1"))
        #expect(bounce.ticket.status == .pending, "a bounce does not reopen")
        #expect(bounce.email.personID == opened.ticket.requesterID && bounce.message.authorPersonID == opened.ticket.requesterID,
                "the report is about the recipient it names")

        let stray = try await gw.ingest(report.replacingOccurrences(of: headers.messageID, with: "<nothing@acme.example>")
            .replacingOccurrences(of: "bounce1@", with: "bounce2@"))
        #expect(stray.email.outcome == .bounceIgnored && stray.email.ticketID == 0)
        let delivered = try await gw.ingest(report.replacingOccurrences(of: "Action: failed", with: "Action: delivered")
            .replacingOccurrences(of: "bounce1@", with: "bounce4@"))
        #expect(delivered.email.outcome == .bounceIgnored && delivered.email.reason == "a delivery report: delivered")
        let daemon = try await gw.ingest(rawMail(from: "MAILER-DAEMON@mx.example.com", subject: "failure notice",
                                                 messageID: "bounce3@mx.example.com", headers: ["Return-Path: <>"]))
        #expect(daemon.email.outcome == .bounceIgnored, "a plain-text bounce from the mailer daemon")
        let queue = try await world.admin.queueIDs { _ in }
        #expect(queue == [opened.ticket.id], "no bounce opened a ticket")
    }

    @Test func mailboxesPlaceNewTicketsAndALoopIsRejected() async throws {
        let (world, gw) = try await Self.start()
        let admin = MailClient(connection: world.connection)
        try await admin.setMailbox("Billing@Acme.example", team: "billing", priority: .high, type: .question)
        try await admin.setMailbox("*", team: "tech")
        let billing = try await gw.ingest(rawMail(from: "ada@example.com", to: "billing@acme.example", subject: "Charged twice",
                                                  messageID: "c1@example.com"))
        #expect(billing.ticket.team == "billing" && billing.ticket.priority == .high && billing.ticket.type == .question)
        #expect(billing.email.recipient == "billing@acme.example")
        let enveloped = try await gw.ingest(rawMail(from: "ada@example.com", to: "undisclosed-recipients:;", subject: "Bcc'd",
                                                    messageID: "c2@example.com"), recipient: "billing@acme.example")
        #expect(enveloped.ticket.team == "billing", "the envelope recipient wins")
        let other = try await gw.ingest(rawMail(from: "ada@example.com", to: "help@acme.example", subject: "Other", messageID: "c3@example.com"))
        #expect(other.ticket.team == "tech" && other.email.recipient == "*")

        let loop = try await gw.ingest(rawMail(from: "billing@acme.example", subject: "Re: Charged twice", messageID: "c4@acme.example"))
        #expect(loop.email.outcome == .rejected && loop.email.reason.contains("loop") && loop.email.ticketID == 0)
        let noFrom = try await gw.ingest("Subject: hello\r\nMessage-ID: <nf@x.example>\r\n\r\nbody\r\n")
        #expect(noFrom.email.outcome == .rejected && noFrom.email.reason == "no usable From address")

        let empty = await #expect(throws: RPCError.self) { try await gw.ingest("") }
        #expect(empty?.code == .invalidArgument)
        let garbage = await #expect(throws: RPCError.self) { try await gw.ingest("just some words\r\n") }
        #expect(garbage?.code == .invalidArgument)
        let badMailbox = await #expect(throws: RPCError.self) { try await admin.setMailbox("not an address") }
        #expect(badMailbox?.code == .invalidArgument)
        let noTeam = await #expect(throws: RPCError.self) { try await admin.setMailbox("x@acme.example", team: "nope") }
        #expect(noTeam?.code == .notFound)
    }

    @Test func permissionsAndScope() async throws {
        let (world, gw) = try await Self.start()
        let ana = MailClient(connection: world.connection, metadata: AccessSupport.actingAs("ana"))
        let pat = MailClient(connection: world.connection, metadata: AccessSupport.actingAs("pat"))
        let denied = await #expect(throws: RPCError.self) {
            try await pat.ingest(rawMail(from: "ada@example.com", subject: "x", messageID: "x1@example.com"))
        }
        #expect(denied?.code == .permissionDenied)
        let agent = await #expect(throws: RPCError.self) {
            try await ana.ingest(rawMail(from: "ada@example.com", subject: "x", messageID: "x2@example.com"))
        }
        #expect(agent?.code == .permissionDenied, "service.* at scope team does not file mail for anyone")
        let config = await #expect(throws: RPCError.self) { try await ana.setMailbox("a@acme.example") }
        #expect(config?.code == .permissionDenied, "mailboxes are shared configuration: scope all")
        let filed = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Mine", messageID: "s1@example.com"))
        // ana (scope team) cannot reach a ticket with no team and no assignee.
        let hidden = await #expect(throws: RPCError.self) { try await ana.get(filed.email.id) }
        #expect(hidden?.code == .notFound)
        #expect(try await ana.list().emails.isEmpty)
        #expect(try await MailClient(connection: world.connection, metadata: AccessSupport.actingAs("mia")).get(filed.email.id).id
                == filed.email.id)
    }

    @Test func theSendersMailIsExportedMovedOnAMergeAndErased() async throws {
        let (world, gw) = try await Self.start()
        let filed = try await gw.ingest(rawMail(from: "Zoe Quill <zoe@example.com>", subject: "Secret project", messageID: "z1@example.com",
                                                headers: [], body: "details"))
        let zoe = filed.email.personID
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = zoe })
        let part = try #require(export.modules.first { $0.module == "service" })
        let records = try part.records.filter { $0.typeName == "crm.service.v1.InboundEmail" }
            .map { try SInboundEmail(serializedBytes: $0.payload) }
        #expect(records.map(\.subject) == ["Secret project"])

        let survivor = try await world.person("Zoe", "Q.")
        let _: Crm_Contacts_V1_Person = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor
            $0.mergedID = zoe
        })
        #expect(try await eventually { try await gw.get(filed.email.id).personID == survivor })

        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = survivor; $0.reason = "GDPR request 9" })
        #expect(try await eventually { try await gw.get(filed.email.id).fromAddress == "(erased)" })
        let erased = try await gw.get(filed.email.id)
        #expect(erased.subject == "(erased)" && erased.fromName.isEmpty && erased.outcome == .newTicket)
        let trail = try await world.audit("service.inbound_email", filed.email.id)
        #expect(!trail.isEmpty && trail.allSatisfy(\.redacted))
    }

    @Test func crmctlIngestEmailReadsTheMessageFromStandardInput() async throws {
        let (world, _) = try await Self.start()
        try await AccessSupport.createUser(world.crmd, "mailer", uids: [4242], roles: ["service_mail_gateway"])
        let path = NSTemporaryDirectory() + "/mail-\(UUID().uuidString).eml"
        try rawMail(from: "ada@example.com", subject: "Piped in", messageID: "pipe1@example.com").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try CrmctlRun.run(["ingest-email", "--sysexits"], socket: world.crmd.socketPath, uid: 4242, stdin: path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("\"outcome\":\"NEW_TICKET\""), "\(run.stdout)")
        let denied = try CrmctlRun.run(["ingest-email", "--sysexits"], socket: world.crmd.socketPath, uid: 4343, stdin: path)
        #expect(denied.status == 75, "an unknown uid is a setup mistake: the mail waits (\(denied.status) \(denied.stderr))")
        let down = try CrmctlRun.run(["ingest-email", "--sysexits"], socket: CrmctlRun.nowhere, stdin: path)
        #expect(down.status == 75, "crmd unreachable: try again later (\(down.stderr))")
    }

    @Test func aReplyKeepsAnswersBetweenQuotesAndCutsOnlyTheTrailingHistory() async throws {
        // The world is kept: dropping it would stop its crmd (CrmdProcess's deinit kills it).
        let (world, gw) = try await Self.start()
        defer { withExtendedLifetime(world) {} }
        let opened = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Crash", messageID: "k1@example.com"))
        let inline = try await gw.ingest(rawMail(
            from: "ada@example.com", subject: "Re: Crash", messageID: "k2@example.com", inReplyTo: "<k1@example.com>",
            body: "Hi,\r\n> Which version?\r\n3.2\r\n> OS?\r\nDebian\r\n\r\n> earlier\r\n> text"))
        #expect(inline.message.body == "Hi,\n> Which version?\n3.2\n> OS?\nDebian", "answers between quotes stay")
        let html = try await gw.ingest(rawMail(
            from: "ada@example.com", subject: "Re: Crash", messageID: "k3@example.com", inReplyTo: "<k1@example.com>",
            body: "<p>Still &amp; again</p><script>x()</script><div>line two</div>", contentType: "text/html; charset=utf-8"))
        #expect(html.message.body == "Still & again\nline two")
        #expect(opened.ticket.id == inline.ticket.id && inline.ticket.id == html.ticket.id)
    }

    @Test func theSecondReplyToAClosedTicketJoinsItsFollowUp() async throws {
        let (world, gw) = try await Self.start()
        let opened = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Refund", messageID: "f1@example.com"))
        let answer = try await world.admin.reply(opened.ticket.id, "Refunded", status: .solved)
        let headers = try await gw.prepareReply(answer.message.id)
        _ = try await world.admin.setStatus(opened.ticket.id, .closed)
        let first = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Re: Refund", messageID: "f2@example.com",
                                                inReplyTo: headers.messageID))
        let second = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Re: Refund", messageID: "f3@example.com",
                                                 inReplyTo: headers.messageID))
        #expect(first.email.followUp && first.ticket.followUpOfID == opened.ticket.id)
        #expect(!second.email.followUp && second.ticket.id == first.ticket.id, "one follow-up, not one per reply")
    }

    @Test func someoneElsesMailOnATicketIsANoteThatReopensNothing() async throws {
        let (world, gw) = try await Self.start()
        let acme = try await world.contacts.createOrganization("Acme")
        let ada = try await world.person("Ada", "Lovelace", organization: acme.id)
        let bob = try await world.person("Bob", "Builder", organization: acme.id)
        let opened = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Printer", messageID: "o1@example.com"))
        #expect(opened.ticket.requesterID == ada && opened.ticket.organizationID == acme.id)
        _ = try await world.admin.setStatus(opened.ticket.id, .pending)
        let colleague = try await gw.ingest(rawMail(from: "bob@example.com", subject: "Re: Printer", messageID: "o2@example.com",
                                                    inReplyTo: "<o1@example.com>"))
        #expect(colleague.email.outcome == .reply && colleague.message.authorPersonID == bob, "a colleague of the requester's organization")
        _ = try await world.admin.setStatus(opened.ticket.id, .pending)
        let stranger = try await gw.ingest(rawMail(from: "eve@elsewhere.example", subject: "Re: Printer", messageID: "o3@example.com",
                                                   inReplyTo: "<o1@example.com>", body: "Click my link"))
        #expect(stranger.email.outcome == .otherSenderNoted && stranger.message.kind == .internal
                && stranger.message.authorKind == .system)
        #expect(stranger.message.body.contains("eve@elsewhere.example") && stranger.ticket.status == .pending,
                "a forwarded copy answers nobody's ticket")
        let sameID = try await gw.ingest(rawMail(from: "mallory@elsewhere.example", subject: "Reused id", messageID: "o1@example.com"))
        #expect(!sameID.duplicate && sameID.email.messageID.hasPrefix("o1@example.com#") && sameID.email.outcome == .newTicket,
                "another sender's message with a known Message-ID is its own")
        let answer = try await world.admin.reply(opened.ticket.id, "Fixed")
        let headers = try await gw.prepareReply(answer.message.id)
        let echo = try await gw.ingest(rawMail(from: "ana@acme.example", subject: headers.subject,
                                               messageID: String(headers.messageID.dropFirst().dropLast())))
        #expect(echo.email.outcome == .rejected && echo.email.reason.contains("own reply"))
    }

    @Test func theAutoRepliesAndBouncesOfAPersonAreErasedWithThem() async throws {
        let (world, gw) = try await Self.start()
        let ada = try await world.person("Ada", "Lovelace")
        let bea = try await world.person("Bea", "Baker")
        let opened = try await gw.ingest(rawMail(from: "bea@example.com", subject: "Bea's ticket", messageID: "w1@example.com"))
        let vacation = try await gw.ingest(rawMail(from: "ada@example.com", subject: "Out of office", messageID: "w2@example.com",
                                                   inReplyTo: "<w1@example.com>", headers: ["Auto-Submitted: auto-replied"],
                                                   body: "Ada is away in Lisbon"))
        #expect(vacation.email.personID == ada && vacation.message.authorPersonID == ada && vacation.ticket.id == opened.ticket.id)
        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = ada; $0.reason = "GDPR request 11" })
        #expect(try await eventually { try await gw.get(vacation.email.id).fromAddress == "(erased)" })
        let record = try await gw.get(vacation.email.id)
        #expect(record.subject == "(erased)" && record.messageID.hasPrefix("erased:"))
        let notes = try await world.admin.messages(opened.ticket.id).messages
        #expect(!notes.contains { $0.body.contains("Lisbon") }, "Ada's words on Bea's ticket go with her")
        #expect(try await world.admin.get(opened.ticket.id).requesterID == bea)
    }
}
