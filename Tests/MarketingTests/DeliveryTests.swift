import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Delivery end to end: a real crmd sending to a real aiosmtpd on loopback.
@Suite(.serialized) struct DeliveryTests {
    func row(_ world: ConsentWorld, _ person: Int64) async throws -> MDelivery {
        try #require(try await world.marketing.deliveries(person: person).deliveries.first)
    }

    func waitState(_ world: ConsentWorld, _ id: Int64, _ state: Crm_Marketing_V1_DeliveryState) async throws -> MDelivery {
        try await eventually(20, "delivery \(id) \(state)") { try await world.marketing.delivery(id).state == state }
        return try await world.marketing.delivery(id)
    }

    @Test func confirmationEmailArrivesWithItsHeadersAndBody() async throws {
        let smtp = try SMTPTestServer()
        let world = try ConsentWorld(environment: smtp.environment())
        let ada = try await world.person("Ada", email: "ada@example.com")
        _ = try await world.marketing.requestSubscription(ada)
        let queued = try await row(world, ada)
        let sent = try await waitState(world, queued.id, .sent)
        let mail = try #require(smtp.received(to: "ada@example.com").first)
        #expect(smtp.received(to: "ada@example.com").count == 1)
        #expect(mail.header("From") == "news@crm.example")
        #expect(mail.header("To") == "ada@example.com")
        #expect(mail.header("Subject") == "Please confirm your subscription")
        #expect(mail.header("Message-ID") == sent.messageID)
        #expect(sent.messageID.hasPrefix("<\(sent.id).") && sent.messageID.hasSuffix("@crm.example>"))
        #expect(mail.header("Date")?.hasSuffix("+0000") == true)
        #expect(mail.header("MIME-Version") == "1.0")
        #expect(mail.header("Content-Type")?.hasPrefix("multipart/alternative; boundary=") == true)
        // A confirmation has no unsubscribe_url: no List-Unsubscribe.
        #expect(mail.header("List-Unsubscribe") == nil)
        let token = try world.latestToken(ada)
        #expect(mail.part("text/plain")?.contains("/marketing/confirm?token=\(token)") == true)
        #expect(mail.part("text/html")?.contains("/marketing/confirm?token=\(token)") == true)
        #expect(sent.attemptLog.count == 1 && sent.attemptLog[0].smtpCode == 250)
        #expect(sent.lastError.contains("queued as test"))
        #expect(try world.database.rows("SELECT kind FROM marketing_engagement WHERE outbox_id = \(sent.id)") == [["1"]])
        // The confirmation link works (the mail is the only place the token is).
        #expect(try await world.marketing.confirm(token).status == .subscribed)
    }

    @Test func sendTestEmailArrivesRenderedAndUntracked() async throws {
        let smtp = try SMTPTestServer()
        let world = try ConsentWorld(environment: smtp.environment())
        let zoe = try await world.person("Zoë", email: "zoe@example.com")
        let template = try await world.marketing.createTemplate("Welcome")
        let queued = try await world.marketing.sendTestEmail(template: template.id, person: zoe, to: "operator@example.com", key: "t1")
        #expect(queued.purpose == "test" && !queued.tracked && queued.toAddress == "operator@example.com")
        // The same key again: the same row, nothing more queued.
        let again = try await world.marketing.sendTestEmail(template: template.id, person: zoe, to: "operator@example.com", key: "t1")
        #expect(again.id == queued.id)
        _ = try await waitState(world, queued.id, .sent)
        let mail = try #require(smtp.received(to: "operator@example.com").first)
        #expect(smtp.received(to: "operator@example.com").count == 1)
        // A non-ASCII subject goes as RFC 2047 encoded words.
        let subject = try #require(mail.header("Subject"))
        #expect(subject.hasPrefix("=?UTF-8?B?"))
        let encoded = subject.split(separator: " ").map { $0.dropFirst(10).dropLast(2) }.joined()
        #expect(Data(base64Encoded: String(encoded)).map { String(decoding: $0, as: UTF8.self) } == "Hello Zoë")
        #expect(mail.part("text/plain")?.hasPrefix("Hi\nUnsubscribe: http") == true)
        // A test send is no engagement of the person.
        #expect(try world.database.rows("SELECT COUNT(*) FROM marketing_engagement WHERE outbox_id = \(queued.id)") == [["0"]])
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key") {
            try await world.marketing.sendTestEmail(template: template.id, person: zoe, to: "other@example.com", key: "t1")
        }
        await expectRPCError(.invalidArgument, mentioning: "template_id") {
            try await world.marketing.sendTestEmail(template: 0, person: zoe, to: "a@example.com")
        }
        await expectRPCError(.invalidArgument, mentioning: "person_id") {
            try await world.marketing.sendTestEmail(template: template.id, person: -1, to: "a@example.com")
        }
        await expectRPCError(.invalidArgument, mentioning: "to_address") {
            try await world.marketing.sendTestEmail(template: template.id, person: zoe, to: "")
        }
        await expectRPCError(.invalidArgument, mentioning: "to_address") {
            try await world.marketing.sendTestEmail(template: template.id, person: zoe, to: "a@example.com\r\nBcc: x@example.com")
        }
        await expectRPCError(.notFound, mentioning: "template") {
            try await world.marketing.sendTestEmail(template: 999, person: zoe, to: "a@example.com")
        }
        await expectRPCError(.notFound, mentioning: "person") {
            try await world.marketing.sendTestEmail(template: template.id, person: 999, to: "a@example.com")
        }
    }

    @Test func temporaryFailureIsRetriedThenSent() async throws {
        let smtp = try SMTPTestServer()
        let world = try ConsentWorld(environment: smtp.environment())
        let p = try await world.person("Tim", email: "tempfail@example.com")
        _ = try await world.marketing.requestSubscription(p)
        let sent = try await waitState(world, try await row(world, p).id, .sent)
        #expect(sent.attempts == 2)
        #expect(sent.attemptLog.map(\.smtpCode) == [451, 250])
        #expect(sent.attemptLog[0].reply.contains("try again later"))
        #expect(smtp.received(to: "tempfail@example.com").count == 1)
    }

    @Test func permanentFailureIsABounce() async throws {
        let smtp = try SMTPTestServer()
        let world = try ConsentWorld(environment: smtp.environment())
        let p = try await world.person("Bo", email: "bounce@example.com")
        _ = try await world.marketing.requestSubscription(p)
        let failed = try await waitState(world, try await row(world, p).id, .failed)
        #expect(failed.attempts == 1 && failed.attemptLog.map(\.smtpCode) == [550])
        #expect(failed.lastError.contains("no such mailbox"))
        #expect(try world.database.rows("SELECT kind, detail FROM marketing_engagement WHERE outbox_id = \(failed.id)")
                == [["3", "550 5.1.1 no such mailbox"]])
        #expect(try await world.marketing.consent(p).status == .bounced)
        #expect(try world.database.rows("SELECT reason FROM marketing_suppressions WHERE address = 'bounce@example.com'") == [["1"]])
        #expect(smtp.received.isEmpty)
        // A retry of a FAILED row is allowed; the row is then SKIPPED (suppressed) at claim.
        let retried = try await world.marketing.retryDelivery(failed.id, key: "r1")
        #expect(retried.state == .queued || retried.state == .skipped)
        let skipped = try await waitState(world, failed.id, .skipped)
        #expect(skipped.lastError.contains("suppressed"))
        await expectRPCError(.failedPrecondition, mentioning: "only INTERRUPTED or FAILED") {
            try await world.marketing.retryDelivery(failed.id)
        }
    }

    /// Campaign rows (requires consent, an unsubscribe URL) are queued here
    /// by SQL while crmd is stopped: the campaigns feature queues them later.
    @Test func campaignRowsCheckConsentAtSendTimeAndCarryListUnsubscribe() async throws {
        let smtp = try SMTPTestServer()
        let first = try ConsentWorld()  // no smtp_url: nothing is sent while the rows are made
        let kept = try await first.person("Kay", email: "kay@example.com")
        let gone = try await first.person("Gus", email: "gus@example.com")
        for p in [kept, gone] {
            _ = try await first.marketing.setConsent(p, .subscribed, evidence: "signed form")
        }
        _ = try await first.marketing.unsubscribe(gone)
        _ = try first.crmd.stop()
        let db = first.crmd.dir + "/data/crm.db"
        let insert = """
            INSERT INTO marketing_outbox (dedupe_key, person_id, channel, to_address, subject, html_body, text_body, purpose,
              campaign_id, variant_id, tracked, unsubscribe_url, requires_consent, state, attempts, next_attempt_us, last_error,
              message_id, queued_us, sent_us) VALUES (?, ?, 1, ?, ?, '<p>Offer</p>', 'Offer', 'campaign', 7, 0, 1, ?, 1, 0, 0, 0, '', '', 0, 0)
            """
        try sqlite(db, insert, ["campaign:7:1:\(kept)", String(kept), "kay@example.com", "Spring\r\nBcc: evil@example.com",
                                "https://crm.example/u?t=1"])
        try sqlite(db, insert, ["campaign:7:1:\(gone)", String(gone), "gus@example.com", "Spring", "https://crm.example/u?t=2"])
        try sqlite(db, insert, ["campaign:7:1:x", String(kept), "kay@example.com\r\nBcc: evil@example.com", "Spring", ""])
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"], environment: smtp.environment(), dataDir: first.crmd.dir + "/data")
        let m = MarketingClient(connection: try crmd.connect())
        try await eventually(20, "no queued or sending rows") {
            try await m.deliveries(campaign: 7).deliveries.allSatisfy { $0.state != .queued && $0.state != .sending }
        }
        let rows = try await m.deliveries(campaign: 7).deliveries.sorted { $0.id < $1.id }
        #expect(rows.map(\.state) == [.sent, .skipped, .failed])
        #expect(rows[1].lastError.contains("consent"))
        #expect(rows[2].lastError.contains("header injection"))
        let mail = try #require(smtp.received(to: "kay@example.com").first)
        #expect(smtp.received.count == 1)
        #expect(mail.header("List-Unsubscribe") == "<https://crm.example/u?t=1>")
        #expect(mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click")
        // The CR LF of the subject was folded to a space: no header was injected.
        #expect(mail.header("Subject") == "Spring  Bcc: evil@example.com")
        #expect(mail.header("Bcc") == nil && !mail.headerNames.contains("Bcc"))
        #expect(mail.rcpt == ["kay@example.com"])
        _ = try crmd.stop()
    }

    /// kill -9 during sends: the slow recipients' server writes each message
    /// and then waits 1.5 s before its reply, so the kill falls between the
    /// message reaching the server and crmd recording it.
    @Test func killDuringSendsNeverSendsAMessageTwice() async throws {
        let smtp = try SMTPTestServer()
        let env = smtp.environment(["CRM_PLUGIN_MARKETING_SMTP_BATCH_SIZE": "2", "CRM_PLUGIN_MARKETING_SMTP_CONNECTIONS": "1"])
        let first = try ConsentWorld(environment: env)
        var people: [Int64: String] = [:]
        for i in 1...6 {
            let address = "slow\(i)@example.com"
            people[try await first.person("S\(i)", email: address)] = address
        }
        for p in people.keys.sorted() { _ = try await first.marketing.requestSubscription(p) }
        try await eventually(20, "a message at the server") { !smtp.received.isEmpty }
        _ = try first.crmd.stop(signal: SIGKILL)
        let atKill = try first.database.rows("SELECT COUNT(*) FROM marketing_outbox WHERE state = 1")
        #expect(atKill != [["0"]], "some row was SENDING at the kill")
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"], environment: env, dataDir: first.crmd.dir + "/data")
        let m = MarketingClient(connection: try crmd.connect())
        try await eventually(40, "every row settled") {
            let open = try await m.deliveries(state: .queued).deliveries.count + (try await m.deliveries(state: .sending).deliveries.count)
            return open == 0
        }
        let rows = try await m.deliveries().deliveries
        #expect(rows.count == 6)
        #expect(!rows.contains { $0.state == .sending })
        let interrupted = rows.filter { $0.state == .interrupted }
        #expect(!interrupted.isEmpty)
        for r in rows {
            let got = smtp.received(to: r.toAddress)
            #expect(got.count <= 1, "\(r.toAddress) got \(got.count) copies")
            if r.state == .sent { #expect(got.count == 1) } else { #expect(r.state == .interrupted) }
            #expect(r.lastError.isEmpty || r.state != .interrupted || r.lastError.contains("interrupted"))
        }
        // The one the server had when crmd died: a deliberate resend carries the same Message-ID.
        let reached = try #require(interrupted.first { !smtp.received(to: $0.toAddress).isEmpty })
        _ = try await m.retryDelivery(reached.id, key: "again")
        try await eventually(20, "the resend") { try await m.delivery(reached.id).state == .sent }
        let copies = smtp.received(to: reached.toAddress)
        #expect(copies.count == 2)
        #expect(copies[0].header("Message-ID") == copies[1].header("Message-ID"))
        #expect(copies[0].header("Message-ID") == reached.messageID)
        _ = try crmd.stop()
    }

    /// Sends are spaced 1/rate apart, so no one-second window holds more than rate + 1.
    @Test func rateLimitSpacesSends() async throws {
        let smtp = try SMTPTestServer()
        let world = try ConsentWorld(environment: smtp.environment(["CRM_PLUGIN_MARKETING_SMTP_RATE_PER_SECOND": "4",
                                                                    "CRM_PLUGIN_MARKETING_SMTP_CONNECTIONS": "4"]))
        let p = try await world.person("Ray", email: "ray@example.com")
        let template = try await world.marketing.createTemplate("Rate")
        for i in 0..<10 {
            _ = try await world.marketing.sendTestEmail(template: template.id, person: p, to: "rate\(i)@example.com")
        }
        #expect(try await world.marketing.deliveryStatus().ratePerSecond == 4)
        try await eventually(30, "ten messages") { smtp.received.count == 10 }
        let times = smtp.received.map(\.at).sorted()
        for t in times {
            #expect(times.filter { $0 >= t && $0 < t + 1 }.count <= 5)
        }
    }

    @Test func withoutSMTPURLNothingIsSentAndTheStatusSaysWhy() async throws {
        let world = try ConsentWorld(environment: ["CRM_PLUGIN_MARKETING_SMTP_RATE_PER_SECOND": "fast"])
        let p = try await world.person("Nia", email: "nia@example.com")
        _ = try await world.marketing.requestSubscription(p)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let d = try await row(world, p)
        #expect(d.state == .queued && d.attempts == 0 && d.attemptLog.isEmpty)
        let status = try await world.marketing.deliveryStatus()
        #expect(!status.configured && status.reason.contains("smtp_url is not set"))
        #expect(status.queue.first { $0.state == .queued }?.count == 1)
        #expect(status.ratePerSecond == 50)
        let log = world.crmd.log
        #expect(log.components(separatedBy: "smtp_url is not set").count == 2, "warned once")
        #expect(log.contains("smtp_rate_per_second") && log.contains("is not a number"), "a bad value is logged")
    }

    @Test func badInputsOfTheDeliveryRpcs() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        let p = try await world.person("Eve", email: "eve@example.com")
        _ = try await m.requestSubscription(p)
        let d = try await row(world, p)
        await expectRPCError(.invalidArgument, mentioning: "id") { try await m.delivery(0) }
        await expectRPCError(.invalidArgument, mentioning: "id") { try await m.delivery(-4) }
        await expectRPCError(.notFound, mentioning: "delivery 999") { try await m.delivery(999) }
        await expectRPCError(.invalidArgument, mentioning: "person_id") { try await m.deliveries(person: -1) }
        await expectRPCError(.invalidArgument, mentioning: "campaign_id") { try await m.deliveries(campaign: -1) }
        await expectRPCError(.invalidArgument, mentioning: "state") {
            try await m.deliveries(state: .UNRECOGNIZED(99))
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await m.deliveries(pageToken: "junk") }
        await expectRPCError(.notFound, mentioning: "person_id") { try await m.deliveries(person: 999) }
        await expectRPCError(.invalidArgument, mentioning: "id") { try await m.retryDelivery(0) }
        await expectRPCError(.notFound, mentioning: "delivery") { try await m.retryDelivery(999) }
        await expectRPCError(.failedPrecondition, mentioning: "QUEUED") { try await m.retryDelivery(d.id) }
        await expectRPCError(.invalidArgument, mentioning: "limit") {
            try await m.call("ClaimDeliveries", Crm_Marketing_V1_ClaimDeliveriesRequest.with { $0.limit = 0 },
                             as: Crm_Marketing_V1_ClaimDeliveriesResponse.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "outcomes[0].result") {
            try await m.call("RecordDeliveries", Crm_Marketing_V1_RecordDeliveriesRequest.with {
                $0.outcomes = [.with { $0.id = d.id; $0.attempt = 1 }]
            }, as: Crm_Marketing_V1_RecordDeliveriesResponse.self)
        }
        // An outcome for a row not in that claim changes nothing.
        let ignored = try await m.call("RecordDeliveries", Crm_Marketing_V1_RecordDeliveriesRequest.with {
            $0.outcomes = [.with { $0.id = d.id; $0.attempt = 1; $0.result = .sent }]
        }, as: Crm_Marketing_V1_RecordDeliveriesResponse.self)
        #expect(ignored.ignored == 1 && ignored.recorded == 0)
        #expect(try await m.delivery(d.id).state == .queued)
        // Pages: one row per page, keyset.
        _ = try await m.requestSubscription(try await world.person("Fay", email: "fay@example.com"))
        let page1 = try await m.deliveries(pageSize: 1)
        #expect(page1.deliveries.count == 1 && !page1.nextPageToken.isEmpty)
        let page2 = try await m.deliveries(pageSize: 1, pageToken: page1.nextPageToken)
        #expect(page2.deliveries.count == 1 && page2.deliveries[0].id < page1.deliveries[0].id)
    }
}
