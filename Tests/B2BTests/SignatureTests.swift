import B2BTestClient
import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import SalesTestClient
import SwiftProtobuf
import Testing

/// Item 5 of issue 16: a sent revision sent for signature, the provider's
/// HMAC-signed status changes, the opportunity won and the contract made.
@Suite struct SignatureTests {
    @Test func aSignatureWinsTheDealAndMakesTheContract() async throws {
        let world = try await B2BWorld.signing()
        let pipeline = try await world.dealPipeline()
        let seller = try await world.seller()
        let buyer = try await world.buyer(owner: "ann")
        let person = try await world.contacts.createPerson("Ada", "Lovelace", organization: buyer.id, owner: "ann")
        let deal = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id,
                                              owner: "ann", person: person.id)
        let draft = try await world.admin.createQuote(opportunity: deal.opportunityID, currency: "EUR", world.fleet())
        let quote = try await world.ann.send(draft.id)
        #expect(quote.status == .sent && quote.contentHash.count == 64 && quote.totals.netMinor == 21000)

        let envelope = try await world.sendForSignature(world.ann, quote: quote.id, hash: quote.contentHash, signer: person.id,
                                                        key: "env-1")
        #expect(envelope.status == .created && envelope.quoteID == quote.id && envelope.revision == 1)
        #expect(envelope.contentHash == quote.contentHash && envelope.owner == "ann" && envelope.signerPersonID == person.id)
        #expect(envelope.terms.value.amountMinor == 21000 && envelope.terms.value.currency == "EUR")
        #expect(try await world.sendForSignature(world.ann, quote: quote.id, hash: quote.contentHash, signer: person.id,
                                                 key: "env-1").id == envelope.id, "a retry gets the first envelope")
        await expectRPCError(.permissionDenied, mentioning: "quote_id: quote \(quote.id)") {
            try await world.sendForSignature(world.bob, quote: quote.id)
        }

        let sent = try await world.event("evt-1", envelope: envelope.id, "sent")
        #expect(sent.envelope.status == .sent && sent.envelope.sentUnixUs > 0 && !sent.hasContract)
        let viewed = try await world.webhook(B2BWorld.body("evt-2", envelope: envelope.id, "viewed", at: 1_800_000_000_000_000))
        #expect(viewed.envelope.status == .viewed && viewed.envelope.viewedUnixUs == 1_800_000_000_000_000)
        #expect(try await world.event("evt-3", envelope: envelope.id, "viewed").envelope.viewedUnixUs == 1_800_000_000_000_000,
                "a second view keeps the first view's time")
        let signed = try await world.event("evt-4", envelope: envelope.id, "signed", hash: quote.contentHash)
        #expect(signed.eventID == "evt-4" && signed.envelope.status == .signed && signed.envelope.signedUnixUs > 0)
        let contract = signed.contract
        #expect(contract.id > 0 && signed.envelope.contractID == contract.id)
        #expect(contract.opportunityID == deal.opportunityID && contract.quoteID == quote.id && contract.quoteRevision == 1)
        #expect(contract.contentHash == quote.contentHash && contract.envelopeID == envelope.id)
        #expect(contract.organizationID == buyer.id && contract.personID == person.id && contract.owner == "ann")
        #expect(contract.termsVersion == 1 && contract.status == .active && contract.terms == envelope.terms)

        // Won in sales, signed as a deal, readable as a contract.
        #expect(try await world.sales.getOpportunity(deal.opportunityID).status == .won)
        let after = try await world.getDeal(world.admin, deal.id)
        #expect(after.status == .signed && after.stage == "signed")
        #expect(try await world.contract(contract.id, as: world.meg) == contract)
        #expect(try await world.envelope(envelope.id, as: world.ann).status == .signed)
        let listed: Crm_B2b_V1_ListEnvelopesResponse = try await world.ann.call("ListEnvelopes",
            Crm_B2b_V1_ListEnvelopesRequest.with { $0.quoteID = quote.id })
        #expect(listed.envelopes.map(\.id) == [envelope.id])
        await expectRPCError(.notFound, mentioning: "id: envelope \(envelope.id) does not exist") {
            try await world.envelope(envelope.id, as: world.bob)
        }
        // A signed envelope takes no later event.
        await expectRPCError(.failedPrecondition, mentioning: "envelope \(envelope.id) is SIGNED; a viewed event cannot follow") {
            try await world.event("evt-5", envelope: envelope.id, "viewed")
        }
    }

    @Test func aReplayedWebhookChangesNothing() async throws {
        let world = try await B2BWorld.signing()
        let (quote, opportunity, _) = try await world.sentQuote()
        let envelope = try await world.sendForSignature(quote: quote.id)
        let sentBody = B2BWorld.body("evt-sent", envelope: envelope.id, "sent")
        let first: [UInt8] = try await world.webhook(sentBody).serializedBytes()
        let signedBody = B2BWorld.body("evt-signed", envelope: envelope.id, "signed")
        let signed = try await world.webhook(signedBody)
        let before = try await world.envelope(envelope.id)
        let contracts: Crm_B2b_V1_ListContractsResponse = try await world.admin.call("ListContracts", Crm_B2b_V1_ListContractsRequest())

        // The same events again: the first answers, byte for byte, and nothing moves.
        #expect(try await world.webhook(signedBody) == signed)
        #expect(try await world.webhook(sentBody).serializedBytes() == first, "the answer of the time, not the envelope now")
        #expect(try await world.envelope(envelope.id) == before)
        let again: Crm_B2b_V1_ListContractsResponse = try await world.admin.call("ListContracts", Crm_B2b_V1_ListContractsRequest())
        #expect(again.contracts.count == 1 && again == contracts)
        #expect(try await world.sales.getOpportunity(opportunity.id).status == .won)
        // An event id is one event: another body under it is refused.
        await expectRPCError(.failedPrecondition, mentioning: "event_id \"evt-signed\" was already recorded with another body") {
            try await world.webhook(B2BWorld.body("evt-signed", envelope: envelope.id, "signed", reason: "other"))
        }
    }

    @Test func aBadSignatureIsRefused() async throws {
        let world = try await B2BWorld.signing()
        let (quote, _, _) = try await world.sentQuote()
        let envelope = try await world.sendForSignature(quote: quote.id)
        let body = B2BWorld.body("evt-1", envelope: envelope.id, "sent")
        await expectRPCError(.unauthenticated, mentioning: "signature does not match the body") {
            try await world.webhook(body, signature: B2BWorld.sign(body, key: "whsec-someone-else-0123"))
        }
        // A body changed after signing: the signature of the original does not cover it.
        let forged = B2BWorld.body("evt-1", envelope: envelope.id, "signed")
        await expectRPCError(.unauthenticated, mentioning: "signature does not match the body") {
            try await world.webhook(forged, signature: B2BWorld.sign(body))
        }
        await expectRPCError(.unauthenticated, mentioning: "signature is missing or not an HMAC-SHA256 in hex") {
            try await world.webhook(body, signature: "")
        }
        await expectRPCError(.unauthenticated, mentioning: "signature is missing or not an HMAC-SHA256 in hex") {
            try await world.webhook(body, signature: "sha256=abc")
        }
        #expect(try await world.envelope(envelope.id).status == .created, "nothing refused changed the envelope")
        // Bare hex, upper case: the same digest.
        let bare = String(B2BWorld.sign(body).dropFirst(7)).uppercased()
        #expect(try await world.webhook(body, signature: bare).envelope.status == .sent)
        // Only a holder of b2b.signature.record (scope all) may call it.
        for client in [world.ann, world.rita] {
            await expectRPCError(.permissionDenied, mentioning: "b2b.signature.record") {
                let _: Crm_B2b_V1_SignatureEventResult = try await client.call("RecordSignatureEvent",
                    Crm_B2b_V1_RecordSignatureEventRequest.with { $0.body = Data(body); $0.signature = B2BWorld.sign(body) })
            }
        }
        // Without a key nothing can be believed.
        let keyless = try await B2BWorld.start(users: [])
        await expectRPCError(.failedPrecondition, mentioning: "no signature_webhook_key is configured") {
            try await keyless.webhook(body)
        }
    }

    @Test func aSignatureOnASupersededRevisionIsRefused() async throws {
        let world = try await B2BWorld.signing()
        let (quote, opportunity, _) = try await world.sentQuote()
        let old = try await world.sendForSignature(quote: quote.id)
        _ = try await world.event("evt-1", envelope: old.id, "sent")
        // An edit after sending makes revision 2: revision 1 is superseded.
        var content = world.fleet()
        content.sections[0].lines[0].quantity = "5"
        #expect(try await world.admin.updateQuote(quote.id, content).currentRevision == 2)
        await expectRPCError(.failedPrecondition, mentioning: "envelope \(old.id) is for quote \(quote.id) revision 1, "
                                 + "superseded by revision 2: the signature is refused") {
            try await world.event("evt-2", envelope: old.id, "signed")
        }
        #expect(try await world.envelope(old.id).status == .sent)
        #expect(try await world.sales.getOpportunity(opportunity.id).status == .open)
        let none: Crm_B2b_V1_ListContractsResponse = try await world.admin.call("ListContracts", Crm_B2b_V1_ListContractsRequest())
        #expect(none.contracts.isEmpty)
        await expectRPCError(.failedPrecondition, mentioning: "quote \(quote.id) revision 1 is superseded by revision 2") {
            try await world.sendForSignature(quote: quote.id, revision: 1)
        }
        await expectRPCError(.failedPrecondition, mentioning: "quote \(quote.id) revision 2 is a draft") {
            try await world.sendForSignature(quote: quote.id)
        }
        // Revision 2, sent, is signed.
        let current = try await world.admin.send(quote.id)
        let envelope = try await world.sendForSignature(quote: quote.id, hash: current.contentHash)
        #expect(envelope.revision == 2 && envelope.contentHash == current.contentHash && envelope.contentHash != quote.contentHash)
        _ = try await world.event("evt-3", envelope: envelope.id, "sent")
        let signed = try await world.event("evt-4", envelope: envelope.id, "signed")
        #expect(signed.contract.quoteRevision == 2 && signed.contract.terms.value.amountMinor == 22250)
    }

    @Test func transitionsOutOfOrderAreRefused() async throws {
        let world = try await B2BWorld.signing()
        let (quote, _, _) = try await world.sentQuote()
        let envelope = try await world.sendForSignature(quote: quote.id)
        for type in ["viewed", "signed", "declined"] {
            await expectRPCError(.failedPrecondition, mentioning: "envelope \(envelope.id) is CREATED; a \(type) event cannot follow") {
                try await world.event("early-\(type)", envelope: envelope.id, type)
            }
        }
        _ = try await world.event("evt-1", envelope: envelope.id, "sent")
        await expectRPCError(.failedPrecondition, mentioning: "is SENT; a sent event cannot follow") {
            try await world.event("evt-2", envelope: envelope.id, "sent")
        }
        // The refused events were not recorded: once in order, the same id goes through.
        #expect(try await world.event("early-declined", envelope: envelope.id, "declined", reason: "budget").envelope.status == .declined)
        #expect(try await world.envelope(envelope.id).declineReason == "budget")
        for type in ["sent", "viewed", "signed", "expired"] {
            await expectRPCError(.failedPrecondition, mentioning: "is DECLINED; a \(type) event cannot follow") {
                try await world.event("late-\(type)", envelope: envelope.id, type)
            }
        }
        // A declined envelope's revision may be sent again; one in progress at a time.
        let second = try await world.sendForSignature(quote: quote.id)
        await expectRPCError(.alreadyExists, mentioning: "already has envelope \(second.id) in progress (CREATED)") {
            try await world.sendForSignature(quote: quote.id)
        }
        #expect(try await world.event("evt-3", envelope: second.id, "expired").envelope.status == .expired)
    }

    @Test func badInputsGetClearStatuses() async throws {
        let world = try await B2BWorld.signing()
        let (quote, _, _) = try await world.sentQuote()
        await expectRPCError(.invalidArgument, mentioning: "quote_id") { try await world.sendForSignature(quote: 0) }
        await expectRPCError(.invalidArgument, mentioning: "revision must not be negative") {
            try await world.sendForSignature(quote: quote.id, revision: -1)
        }
        await expectRPCError(.notFound, mentioning: "quote_id: quote 999 does not exist") { try await world.sendForSignature(quote: 999) }
        await expectRPCError(.notFound, mentioning: "has no revision 7") { try await world.sendForSignature(quote: quote.id, revision: 7) }
        await expectRPCError(.invalidArgument, mentioning: "content_hash \"xyz\" is not 64 lowercase hex digits") {
            try await world.sendForSignature(quote: quote.id, hash: "xyz")
        }
        await expectRPCError(.failedPrecondition, mentioning: "content_hash \(String(repeating: "a", count: 64)) is not the hash") {
            try await world.sendForSignature(quote: quote.id, hash: String(repeating: "a", count: 64))
        }
        await expectRPCError(.notFound, mentioning: "signer_person_id: person 999 does not exist") {
            try await world.sendForSignature(quote: quote.id, signer: 999)
        }
        var terms = B2BWorld.terms()
        terms.endUnixUs = terms.startUnixUs
        await expectRPCError(.invalidArgument, mentioning: "terms.end_unix_us") { try await world.sendForSignature(quote: quote.id, terms: terms) }
        terms = B2BWorld.terms()
        terms.startUnixUs = 0
        await expectRPCError(.invalidArgument, mentioning: "terms.start_unix_us is required") {
            try await world.sendForSignature(quote: quote.id, terms: terms)
        }
        terms = B2BWorld.terms(period: .unspecified)
        await expectRPCError(.invalidArgument, mentioning: "terms.billing_period is required") {
            try await world.sendForSignature(quote: quote.id, terms: terms)
        }
        terms = B2BWorld.terms(uplift: 100_001)
        await expectRPCError(.invalidArgument, mentioning: "terms.uplift_bp is 100001") {
            try await world.sendForSignature(quote: quote.id, terms: terms)
        }
        terms = B2BWorld.terms()
        terms.noticeDays = -1
        await expectRPCError(.invalidArgument, mentioning: "terms.notice_days is -1") {
            try await world.sendForSignature(quote: quote.id, terms: terms)
        }
        terms = B2BWorld.terms()
        terms.endUnixUs = Int64.max
        await expectRPCError(.invalidArgument, mentioning: "after the year 9999") {
            try await world.sendForSignature(quote: quote.id, terms: terms)
        }
        // A net of 9 × 10^14 with a 200 % uplift would renew above 10^15: refused now, not by the renewal job later.
        let (big, _, _) = try await world.opportunity(owner: "ann")
        let large = try await world.admin.createQuote(opportunity: big.id, currency: "EUR",
                                                      Q.content([Q.section("All", [Q.line("1", 900_000_000_000_000)])]))
        _ = try await world.admin.send(large.id)
        await expectRPCError(.outOfRange, mentioning: "the renewal amount, 900000000000000 minor units with an uplift of 200 %") {
            try await world.sendForSignature(quote: large.id, terms: B2BWorld.terms(uplift: 20_000))
        }
        // A draft is sent first.
        let (other, _, _) = try await world.opportunity(owner: "ann")
        let draft = try await world.admin.createQuote(opportunity: other.id, currency: "EUR", world.fleet())
        await expectRPCError(.failedPrecondition, mentioning: "quote \(draft.id) revision 1 is a draft: send it") {
            try await world.sendForSignature(quote: draft.id)
        }

        // The webhook's bodies, validly signed but wrong.
        let envelope = try await world.sendForSignature(quote: quote.id)
        for (body, message) in [("not json", "body is not a JSON object"),
                                ("{\"envelope_id\":\(envelope.id),\"type\":\"sent\"}", "body: event_id is required"),
                                ("{\"event_id\":\"e\",\"envelope_id\":\"7\",\"type\":\"sent\"}", "body: envelope_id has the wrong type"),
                                ("{\"event_id\":\"e\",\"type\":\"sent\"}", "body: envelope_id is required"),
                                ("{\"event_id\":\"e\",\"envelope_id\":\(envelope.id),\"type\":\"opened\"}", "type \"opened\" is not one of"),
                                ("{\"event_id\":\"e\",\"envelope_id\":\(envelope.id),\"type\":\"sent\",\"occurred_unix_us\":-5}",
                                 "occurred_unix_us -5 is not a time")] {
            await expectRPCError(.invalidArgument, mentioning: message) { try await world.webhook(Array(body.utf8)) }
        }
        await expectRPCError(.invalidArgument, mentioning: "body is required") { try await world.webhook([]) }
        await expectRPCError(.invalidArgument, mentioning: "body is 65537 bytes") {
            try await world.webhook([UInt8](repeating: 0x20, count: 65_537))
        }
        await expectRPCError(.notFound, mentioning: "envelope_id: envelope 999 does not exist") {
            try await world.event("e-999", envelope: 999, "sent")
        }
        await expectRPCError(.failedPrecondition, mentioning: "is not envelope \(envelope.id)'s") {
            try await world.event("e-hash", envelope: envelope.id, "sent", hash: String(repeating: "b", count: 64))
        }
    }

    @Test func crmctlRecordsAWebhookFromJSON() async throws {
        let world = try await B2BWorld.signing(users: [])
        let (quote, _, _) = try await world.sentQuote()
        let run = try CrmctlRun.run(["call", "/crm.b2b.v1.B2B/SendForSignature", """
            {"quoteId":"\(quote.id)","idempotencyKey":"s-1","terms":{"startUnixUs":"1798761600000000",
             "endUnixUs":"1830297600000000","billingPeriod":"BILLING_PERIOD_ANNUAL","upliftBp":500}}
            """], socket: world.crmd.socketPath)
        #expect(run.status == 0, "\(run.stderr)")
        let envelope = try BEnvelope(jsonString: run.stdout)
        #expect(envelope.status == .created && envelope.contentHash == quote.contentHash)
        let body = B2BWorld.body("cli-1", envelope: envelope.id, "sent")
        let json = "{\"body\":\"\(Data(body).base64EncodedString())\",\"signature\":\"\(B2BWorld.sign(body))\"}"
        let sent = try CrmctlRun.run(["call", "/crm.b2b.v1.B2B/RecordSignatureEvent", json], socket: world.crmd.socketPath)
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(try Crm_B2b_V1_SignatureEventResult(jsonString: sent.stdout).envelope.status == .sent)
        let forged = try CrmctlRun.run(["call", "/crm.b2b.v1.B2B/RecordSignatureEvent",
                                        json.replacingOccurrences(of: "sha256=", with: "sha256=0")], socket: world.crmd.socketPath)
        #expect(forged.status != 0 && forged.stderr.contains("UNAUTHENTICATED"), "\(forged.stderr)")
    }
}
