import CRMClient
import CRMProto
import Foundation

/// Typed consent calls, for tests.
extension MarketingClient {
    public func requestSubscription(_ person: Int64, _ channel: Crm_Marketing_V1_Channel = .email, source: String = "web form",
                                    key: String = "") async throws -> Crm_Marketing_V1_ConsentState {
        try await call("RequestSubscription", Crm_Marketing_V1_RequestSubscriptionRequest.with {
            $0.personID = person
            $0.channel = channel
            $0.source = source
            $0.idempotencyKey = key
        })
    }

    public func confirm(_ token: String) async throws -> Crm_Marketing_V1_ConsentState {
        try await call("ConfirmSubscription", Crm_Marketing_V1_ConfirmSubscriptionRequest.with { $0.token = token })
    }

    public func unsubscribe(_ person: Int64, _ channel: Crm_Marketing_V1_Channel = .email,
                            source: String = "preferences page") async throws -> Crm_Marketing_V1_ConsentState {
        try await call("Unsubscribe", Crm_Marketing_V1_UnsubscribeRequest.with {
            $0.personID = person
            $0.channel = channel
            $0.source = source
        })
    }

    public func setConsent(_ person: Int64, _ status: Crm_Marketing_V1_ConsentStatus, channel: Crm_Marketing_V1_Channel = .email,
                           source: String = "import", evidence: String = "", key: String = "") async throws -> Crm_Marketing_V1_ConsentState {
        try await call("SetConsent", Crm_Marketing_V1_SetConsentRequest.with {
            $0.personID = person
            $0.channel = channel
            $0.status = status
            $0.source = source
            $0.evidence = evidence
            $0.idempotencyKey = key
        })
    }

    /// The person's status on `channel`.
    public func consent(_ person: Int64, _ channel: Crm_Marketing_V1_Channel = .email) async throws -> Crm_Marketing_V1_ConsentState {
        let response: Crm_Marketing_V1_GetConsentResponse = try await call(
            "GetConsent", Crm_Marketing_V1_GetConsentRequest.with { $0.personID = person })
        return response.channels.first { $0.channel == channel } ?? .init()
    }

    public func history(_ person: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Marketing_V1_ListConsentHistoryResponse {
        try await call("ListConsentHistory", Crm_Marketing_V1_ListConsentHistoryRequest.with {
            $0.personID = person
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func addSuppression(_ address: String, _ reason: Crm_Marketing_V1_SuppressionReason = .manual,
                               channel: Crm_Marketing_V1_Channel = .email, detail: String = "") async throws -> Crm_Marketing_V1_Suppression {
        try await call("AddSuppression", Crm_Marketing_V1_AddSuppressionRequest.with {
            $0.channel = channel
            $0.address = address
            $0.reason = reason
            $0.detail = detail
        })
    }

    public func removeSuppression(_ address: String, channel: Crm_Marketing_V1_Channel = .email) async throws -> Crm_Marketing_V1_RemoveSuppressionResponse {
        try await call("RemoveSuppression", Crm_Marketing_V1_RemoveSuppressionRequest.with {
            $0.channel = channel
            $0.address = address
        })
    }

    public func suppressions(channel: Crm_Marketing_V1_Channel = .unspecified, pageSize: Int32 = 0,
                             token: String = "") async throws -> Crm_Marketing_V1_ListSuppressionsResponse {
        try await call("ListSuppressions", Crm_Marketing_V1_ListSuppressionsRequest.with {
            $0.channel = channel
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }
}

extension MarketingClient {
    public func checkSending(_ person: Int64, _ channel: Crm_Marketing_V1_Channel = .email,
                             address: String = "") async throws -> Crm_Marketing_V1_CheckSendingResponse {
        try await call("CheckSending", Crm_Marketing_V1_CheckSendingRequest.with {
            $0.personID = person
            $0.channel = channel
            $0.address = address
        })
    }
}
