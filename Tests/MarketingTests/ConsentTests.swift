import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Double opt-in, unsubscribe, SetConsent, the ledger, bad inputs and
/// idempotency keys, end to end over the socket.
@Suite struct ConsentTests {
    @Test func doubleOptInIsPendingUntilTheEmailedLinkIsFollowed() async throws {
        let world = try ConsentWorld()
        let ann = try await world.person("Ann", email: " Ann@Example.com ")
        let pending = try await world.marketing.requestSubscription(ann, source: "footer form")
        #expect(pending.status == .pendingConfirmation && pending.updatedUnixUs > 0)
        #expect(try await world.marketing.consent(ann).status == .pendingConfirmation)
        #expect(try await world.marketing.checkSending(ann).allowed == false)

        let mails = try world.confirmations(ann)
        #expect(mails.count == 1)
        let mail = try #require(mails.first)
        #expect(mail.to == "Ann@Example.com" && mail.requiresConsent == "0")
        let tokenID = try #require(try world.database.rows("SELECT id FROM marketing_consent_tokens WHERE person_id = \(ann)").first?[0])
        #expect(mail.key == "confirm:\(ann):\(tokenID)")
        let token = try world.latestToken(ann)
        #expect(token.count == 43 && mail.text.contains("http://127.0.0.1:8080/marketing/confirm?token=\(token)"))
        #expect(mail.html.contains("token=\(token)"))
        // Only the token's hash is stored.
        let stored = try world.database.rows("SELECT hex(token_hash), length(token_hash) FROM marketing_consent_tokens")
        #expect(stored.count == 1 && stored[0][1] == "32" && !stored[0][0].contains(token))
        #expect(try world.database.rows("SELECT count(*) FROM marketing_consent_tokens WHERE CAST(token_hash AS TEXT) = '\(token)'")
            == [["0"]])

        let confirmed = try await world.marketing.confirm(token)
        #expect(confirmed.status == .subscribed && confirmed.personID == ann && confirmed.channel == .email)
        #expect(try await world.marketing.checkSending(ann).allowed)
        let history = try await world.marketing.history(ann).entries
        #expect(history.map(\.newStatus) == [.subscribed, .pendingConfirmation])
        #expect(history[0].source == "double opt-in; footer form" && history[0].address == "Ann@Example.com")
        #expect(history[0].evidence.contains("confirmation link sent to Ann@Example.com"))

        await expectRPCError(.failedPrecondition, mentioning: "already used") { try await world.marketing.confirm(token) }
        await expectRPCError(.notFound, mentioning: "token") {
            try await world.marketing.confirm(String(repeating: "A", count: 43))
        }
        await expectRPCError(.invalidArgument, mentioning: "token is required") { try await world.marketing.confirm("  ") }
        await expectRPCError(.invalidArgument, mentioning: "token is longer") {
            try await world.marketing.confirm(String(repeating: "x", count: 101))
        }

        // Already subscribed: a new request changes nothing and sends nothing.
        let again = try await world.marketing.requestSubscription(ann)
        #expect(again.status == .subscribed && again.updatedUnixUs == confirmed.updatedUnixUs)
        #expect(try world.confirmations(ann).count == 1)
    }

    @Test func aNewRequestReplacesTheOlderTokenAndAnUnsubscribeRevokesIt() async throws {
        let world = try ConsentWorld()
        let bea = try await world.person("Bea", email: "bea@example.com")
        _ = try await world.marketing.requestSubscription(bea)
        let first = try world.latestToken(bea)
        _ = try await world.marketing.requestSubscription(bea)
        let second = try world.latestToken(bea)
        #expect(try first != second && world.confirmations(bea).count == 2)
        // The status did not change twice: one ledger entry.
        #expect(try await world.marketing.history(bea).entries.count == 1)
        await expectRPCError(.failedPrecondition, mentioning: "replaced") { try await world.marketing.confirm(first) }
        #expect(try await world.marketing.consent(bea).status == .pendingConfirmation)

        _ = try await world.marketing.unsubscribe(bea)
        await expectRPCError(.failedPrecondition, mentioning: "revoked") { try await world.marketing.confirm(second) }
        #expect(try await world.marketing.consent(bea).status == .unsubscribed)
    }

    @Test func anExpiredTokenIsRefusedAndTheLinkUsesPublicURL() async throws {
        let world = try ConsentWorld(environment: [
            "CRM_PLUGIN_MARKETING_CONFIRMATION_TTL_HOURS": "0.0002",  // 0.72 s
            "CRM_PLUGIN_MARKETING_PUBLIC_URL": "https://crm.example.org/",
        ])
        let cid = try await world.person("Cid", email: "cid@example.com")
        _ = try await world.marketing.requestSubscription(cid)
        let token = try world.latestToken(cid)
        #expect(try #require(try world.confirmations(cid).last).text.contains("https://crm.example.org/marketing/confirm?token=\(token)"))
        let expiry = try world.database.rows("SELECT expires_us - created_us FROM marketing_consent_tokens")
        #expect(expiry == [["720000"]])
        try await Task.sleep(for: .milliseconds(1200))
        await expectRPCError(.failedPrecondition, mentioning: "expired") { try await world.marketing.confirm(token) }
        #expect(try await world.marketing.consent(cid).status == .pendingConfirmation)
    }

    @Test func unsubscribeIsIdempotentAndRecordedInTheLedger() async throws {
        let world = try ConsentWorld()
        let dan = try await world.person("Dan", email: "dan@example.com")
        _ = try await world.marketing.setConsent(dan, .subscribed, source: "trade fair", evidence: "signed card #118")
        let first = try await world.marketing.unsubscribe(dan, source: "preferences page")
        #expect(first.status == .unsubscribed)
        let second = try await world.marketing.unsubscribe(dan, source: "preferences page")
        #expect(second == first)
        let entries = try await world.marketing.history(dan).entries
        #expect(entries.count == 2)
        #expect(entries[0].oldStatus == .subscribed && entries[0].newStatus == .unsubscribed && entries[0].source == "preferences page")
        #expect(entries[1].oldStatus == .unspecified && entries[1].newStatus == .subscribed && entries[1].evidence == "signed card #118")
        // A person never asked may say no before anyone asks.
        let eve = try await world.person("Eve")
        #expect(try await world.marketing.unsubscribe(eve).status == .unsubscribed)
        // Each change is audited under "<person>:<channel>".
        let audit = try world.database.rows("""
            SELECT action FROM kernel_audit WHERE entity = 'marketing.consent' AND record_id = '\(dan):1' ORDER BY id
            """)
        #expect(audit == [["create"], ["update"]])
    }

    @Test func theLedgerPagesNewestFirstAndNamesWhoChangedIt() async throws {
        let world = try ConsentWorld()
        let fay = try await world.person("Fay", email: "fay@example.com", phone: "+44 20 7946 0000")
        _ = try await world.marketing.setConsent(fay, .subscribed, evidence: "form A")
        _ = try await world.marketing.unsubscribe(fay)
        _ = try await world.marketing.setConsent(fay, .subscribed, evidence: "form B")
        _ = try await world.marketing.setConsent(fay, .subscribed, channel: .sms, evidence: "SMS keyword YES")
        _ = try await world.marketing.unsubscribe(fay, .sms)
        var seen: [Crm_Marketing_V1_ConsentLedgerEntry] = []
        var token = ""
        var pages = 0
        repeat {
            let page = try await world.marketing.history(fay, pageSize: 2, token: token)
            #expect(page.entries.count <= 2)
            seen += page.entries
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty && pages < 10
        #expect(pages == 3 && seen.count == 5)
        #expect(seen.map(\.id) == seen.map(\.id).sorted(by: >))
        #expect(seen.map(\.channel) == [.sms, .sms, .email, .email, .email])
        #expect(seen[1].evidence == "SMS keyword YES" && seen[1].address == "+44 20 7946 0000")
        #expect(seen.allSatisfy { $0.personID == fay && $0.actorUser.isEmpty && $0.actorUid == Int64(getuid()) && $0.createdUnixUs > 0 })
        let both = try await world.marketing.call("GetConsent", Crm_Marketing_V1_GetConsentRequest.with { $0.personID = fay },
                                                  as: Crm_Marketing_V1_GetConsentResponse.self)
        #expect(both.channels.map(\.channel) == [.email, .sms] && both.channels.map(\.status) == [.subscribed, .unsubscribed])
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await world.marketing.history(fay, token: "bogus!") }
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await world.marketing.history(fay, pageSize: -1) }
    }

    @Test func badInputsAnswerTheirStatusesNamingTheField() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        let gus = try await world.person("Gus", email: "gus@example.com")
        let noEmail = try await world.person("Hal", phone: "+1 555 0100")
        await expectRPCError(.invalidArgument, mentioning: "person_id is required") { try await m.requestSubscription(0) }
        await expectRPCError(.invalidArgument, mentioning: "person_id must be a positive id") { try await m.requestSubscription(-4) }
        await expectRPCError(.invalidArgument, mentioning: "channel is required") { try await m.requestSubscription(gus, .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "channel 9") {
            try await m.requestSubscription(gus, Crm_Marketing_V1_Channel(rawValue: 9)!)
        }
        await expectRPCError(.invalidArgument, mentioning: "source is longer") {
            try await m.requestSubscription(gus, source: String(repeating: "s", count: 201))
        }
        await expectRPCError(.notFound, mentioning: "person 999999") { try await m.requestSubscription(999_999) }
        await expectRPCError(.failedPrecondition, mentioning: "no primary email") { try await m.requestSubscription(noEmail) }
        await expectRPCError(.failedPrecondition, mentioning: "SMS") { try await m.requestSubscription(noEmail, .sms) }
        await expectRPCError(.invalidArgument, mentioning: "status is required") { try await m.setConsent(gus, .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "PENDING_CONFIRMATION") {
            try await m.setConsent(gus, .pendingConfirmation, evidence: "x")
        }
        await expectRPCError(.invalidArgument, mentioning: "status 17") {
            try await m.setConsent(gus, Crm_Marketing_V1_ConsentStatus(rawValue: 17)!, evidence: "x")
        }
        await expectRPCError(.invalidArgument, mentioning: "evidence is required") { try await m.setConsent(gus, .subscribed) }
        await expectRPCError(.invalidArgument, mentioning: "evidence is longer") {
            try await m.setConsent(gus, .subscribed, evidence: String(repeating: "e", count: 2001))
        }
        await expectRPCError(.failedPrecondition, mentioning: "no email to suppress") { try await m.setConsent(noEmail, .bounced) }
        await expectRPCError(.notFound, mentioning: "person 999999") { try await m.setConsent(999_999, .unsubscribed) }
        await expectRPCError(.invalidArgument, mentioning: "channel is required") { try await m.unsubscribe(gus, .unspecified) }
        await expectRPCError(.notFound, mentioning: "person") { try await m.unsubscribe(999_999) }
        await expectRPCError(.invalidArgument, mentioning: "person_id") { try await m.consent(0) }
        await expectRPCError(.notFound, mentioning: "person") { try await m.consent(999_999) }
        await expectRPCError(.invalidArgument, mentioning: "person_id") { try await m.history(-1) }
        await expectRPCError(.invalidArgument, mentioning: "address") { try await m.checkSending(gus, address: "not-an-email") }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key") {
            try await m.requestSubscription(gus, key: String(repeating: "k", count: 201))
        }
        // Nothing was recorded by any of them.
        #expect(try world.database.rows("SELECT count(*) FROM marketing_consent_ledger") == [["0"]])
    }

    @Test func idempotencyKeysAnswerARetryAndRefuseAnotherRequest() async throws {
        let world = try ConsentWorld()
        let ida = try await world.person("Ida", email: "ida@example.com")
        let first = try await world.marketing.requestSubscription(ida, source: "form", key: "req-1")
        let retry = try await world.marketing.requestSubscription(ida, source: "form", key: "req-1")
        #expect(retry == first && first.status == .pendingConfirmation)
        #expect(try world.confirmations(ida).count == 1)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"req-1\" was already used") {
            try await world.marketing.requestSubscription(ida, source: "another form", key: "req-1")
        }
        let set = try await world.marketing.setConsent(ida, .subscribed, evidence: "paper", key: "set-1")
        _ = try await world.marketing.unsubscribe(ida)
        // The retry does not subscribe again: it answers the status now.
        let setRetry = try await world.marketing.setConsent(ida, .subscribed, evidence: "paper", key: "set-1")
        #expect(set.status == .subscribed && setRetry.status == .unsubscribed)
        await expectRPCError(.failedPrecondition, mentioning: "set-1") {
            try await world.marketing.setConsent(ida, .subscribed, evidence: "other paper", key: "set-1")
        }
        #expect(try await world.marketing.history(ida).entries.count == 3)
    }
}
