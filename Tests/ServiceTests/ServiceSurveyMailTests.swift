import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// With marketing enabled, an invitation goes out as email through
/// marketing's delivery worker (loopback SMTP), which checks email consent
/// at send time; and marketing's QueueTransactionalEmail on its own.
@Suite struct ServiceSurveyMailTests {
    let marketing = "/crm.marketing.v1.Marketing/"

    func delivery(_ w: ServiceWorld, _ id: Int64) async throws -> Crm_Marketing_V1_Delivery {
        try await w.connection.call(marketing + "GetDelivery", Crm_Marketing_V1_GetDeliveryRequest.with { $0.id = id })
    }

    /// The decoded text part of a message as the delivery worker sends it (base64).
    func textPart(_ data: String) -> String? {
        let text = data.replacingOccurrences(of: "\r\n", with: "\n")
        guard let r = text.range(of: "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n") else { return nil }
        let b64 = text[r.upperBound...].prefix { $0 != "-" }.replacingOccurrences(of: "\n", with: "")
        return Data(base64Encoded: b64).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aConsentingPersonGetsTheEmailAndOneWithoutConsentGetsNothing() async throws {
        let smtp = try SurveySMTPServer()
        let s = try await SurveyWorld.start(environment: smtp.environment, plugins: ["contacts", "marketing", "service"])
        let w = s.world
        _ = try await w.mia.createSurvey("Everyone", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        let bob = try await w.person("Bob", "Stone")
        let _: Crm_Marketing_V1_ConsentState = try await w.connection.call(marketing + "SetConsent", Crm_Marketing_V1_SetConsentRequest.with {
            $0.personID = ada
            $0.channel = .email
            $0.status = .subscribed
            $0.source = "support form"
            $0.evidence = "ticked the box, 2026-12-01"
        })
        let adas = try await w.ana.solvedTicket("Invoice", requester: ada)
        let bobs = try await w.ana.solvedTicket("Refund", requester: bob)
        let toAda = try await s.dispatched(adas.id)
        let toBob = try await s.dispatched(bobs.id)
        #expect(toAda.dispatch == .emailQueued && toAda.deliveryID > 0 && toAda.linkOnlyReason.isEmpty)
        #expect(toBob.dispatch == .emailQueued && toBob.deliveryID > 0 && toBob.deliveryID != toAda.deliveryID)

        #expect(try await eventually { try await delivery(w, toAda.deliveryID).state == .sent })
        let sent = try await delivery(w, toAda.deliveryID)
        #expect(sent.purpose == "service.survey" && sent.toAddress == "ada@example.com" && sent.subject == "How did we do? (ticket #\(adas.id))")
        #expect(try await eventually { try await delivery(w, toBob.deliveryID).state == .skipped })
        #expect(try await delivery(w, toBob.deliveryID).lastError.contains("consent"))
        let mail = smtp.received
        #expect(mail.filter { $0.rcpt.contains("ada@example.com") }.count == 1)
        #expect(!mail.contains { $0.rcpt.contains("bob@example.com") }, "no consent, no email")
        let message = try #require(mail.first { $0.rcpt.contains("ada@example.com") })
        let body = try #require(textPart(message.data))
        #expect(body.contains(toAda.link) && body.contains("Invoice"))
        // The emailed link answers like any other.
        try await s.edge.submit(token(toAda.link), csat: 4)
        #expect(try await w.ana.invitation(toAda.id).answers.map(\.score) == [4])
    }

    @Test func queueTransactionalEmailChecksItsInputAndIsIdempotent() async throws {
        let s = try await SurveyWorld.start(plugins: ["contacts", "marketing", "service"])
        let w = s.world
        let ada = try await w.person("Ada", "Lovelace")
        let nomail = try await w.contacts.createPerson("No", "Mail").id
        func queue(_ configure: (inout Crm_Marketing_V1_QueueTransactionalEmailRequest) -> Void,
                   as client: ServiceClient? = nil) async throws -> Crm_Marketing_V1_Delivery {
            var request = Crm_Marketing_V1_QueueTransactionalEmailRequest.with {
                $0.personID = ada
                $0.subject = "Hello"
                $0.textBody = "Hi"
                $0.purpose = "service.survey"
                $0.idempotencyKey = "k1"
            }
            configure(&request)
            return try await w.connection.call(marketing + "QueueTransactionalEmail", request, metadata: (client ?? w.admin).metadata)
        }
        let first = try await queue { _ in }
        #expect(first.state == .queued && first.purpose == "service.survey" && first.toAddress == "ada@example.com")
        #expect(try await queue { _ in }.id == first.id, "a retry answers the first delivery")
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k1\" was already used") {
            try await queue { $0.subject = "Another" }
        }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key is required") { try await queue { $0.idempotencyKey = "" } }
        await expectRPCError(.invalidArgument, mentioning: "purpose \"campaign\" is marketing's own") {
            try await queue { $0.purpose = "campaign"; $0.idempotencyKey = "k2" }
        }
        await expectRPCError(.invalidArgument, mentioning: "subject holds a control character") {
            try await queue { $0.subject = "Hi\r\nBcc: x@example.com"; $0.idempotencyKey = "k3" }
        }
        await expectRPCError(.invalidArgument, mentioning: "html_body and text_body are both empty") {
            try await queue { $0.textBody = ""; $0.idempotencyKey = "k4" }
        }
        await expectRPCError(.failedPrecondition, mentioning: "has no email address") {
            try await queue { $0.personID = nomail; $0.idempotencyKey = "k5" }
        }
        await expectRPCError(.notFound, mentioning: "person 9999 does not exist") {
            try await queue { $0.personID = 9999; $0.idempotencyKey = "k6" }
        }
        // An agent's role has no marketing permission.
        await expectRPCError(.permissionDenied, mentioning: "marketing.delivery.transactional") {
            try await queue({ $0.idempotencyKey = "k7" }, as: w.ana)
        }
    }
}
