import CRMClient
import CRMProto
import Foundation

public typealias MSegmentRule = Crm_Marketing_V1_SegmentRule

/// Segment helpers for tests: rule builders and typed calls.
public enum Rule {
    public static func when(_ field: String, _ op: Crm_Marketing_V1_RuleOperator, _ value: String = "",
                            values: [String] = []) -> MSegmentRule {
        .with {
            $0.condition = .with {
                $0.field = field
                $0.op = op
                $0.value = value
                $0.values = values
            }
        }
    }
    public static func all(_ rules: MSegmentRule...) -> MSegmentRule { .with { $0.all = .with { $0.rules = rules } } }
    public static func any(_ rules: MSegmentRule...) -> MSegmentRule { .with { $0.any = .with { $0.rules = rules } } }
    public static func not(_ rule: MSegmentRule) -> MSegmentRule { .with { $0.not = rule } }
}

extension MarketingClient {
    public func createSegment(_ name: String, rule: MSegmentRule? = nil, list: Bool = false, key: String = "",
                              description: String = "") async throws -> Crm_Marketing_V1_Segment {
        try await call("CreateSegment", Crm_Marketing_V1_CreateSegmentRequest.with {
            $0.name = name
            $0.description_p = description
            $0.kind = list ? .list : .rule
            if let rule { $0.rule = rule }
            $0.idempotencyKey = key
        })
    }

    public func getSegment(_ id: Int64) async throws -> Crm_Marketing_V1_Segment {
        try await call("GetSegment", Crm_Marketing_V1_GetSegmentRequest.with { $0.id = id })
    }

    /// Every member's person id, all pages.
    public func members(_ segment: Int64, pageSize: Int32 = 500) async throws -> [Int64] {
        var ids: [Int64] = []
        var token = ""
        repeat {
            let page: Crm_Marketing_V1_SegmentMembersResponse = try await call("ListSegmentMembers", Crm_Marketing_V1_ListSegmentMembersRequest.with {
                $0.segmentID = segment
                $0.pageSize = pageSize
                $0.pageToken = token
            })
            ids += page.members.map(\.personID)
            token = page.nextPageToken
        } while !token.isEmpty
        return ids
    }

    /// Every person id an unsaved rule matches, all pages.
    public func preview(_ rule: MSegmentRule, pageSize: Int32 = 500) async throws -> [Int64] {
        var ids: [Int64] = []
        var token = ""
        repeat {
            let page: Crm_Marketing_V1_SegmentMembersResponse = try await call("PreviewRule", Crm_Marketing_V1_PreviewRuleRequest.with {
                $0.rule = rule
                $0.pageSize = pageSize
                $0.pageToken = token
            })
            ids += page.members.map(\.personID)
            token = page.nextPageToken
        } while !token.isEmpty
        return ids
    }

    public func count(_ rule: MSegmentRule) async throws -> Int64 {
        try await call("CountRule", Crm_Marketing_V1_CountRuleRequest.with { $0.rule = rule }, as: Crm_Marketing_V1_CountRuleResponse.self).count
    }

    public func rebuild(_ segment: Int64) async throws -> Crm_Marketing_V1_RebuildSegmentResponse {
        try await call("RebuildSegment", Crm_Marketing_V1_RebuildSegmentRequest.with { $0.segmentID = segment })
    }

    public func addMembers(_ segment: Int64, _ people: [Int64]) async throws -> Crm_Marketing_V1_ListMembersResponse {
        try await call("AddListMembers", Crm_Marketing_V1_ListMembersRequest.with {
            $0.segmentID = segment
            $0.personIds = people
        })
    }

    public func removeMembers(_ segment: Int64, _ people: [Int64]) async throws -> Crm_Marketing_V1_ListMembersResponse {
        try await call("RemoveListMembers", Crm_Marketing_V1_ListMembersRequest.with {
            $0.segmentID = segment
            $0.personIds = people
        })
    }
}
