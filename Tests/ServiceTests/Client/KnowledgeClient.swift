import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public typealias SArticle = Crm_Service_V1_Article
public typealias SArticleState = Crm_Service_V1_ArticleState

/// The knowledge base's methods, typed, for tests.
extension ServiceClient {
    public func createCategory(_ name: String, description: String = "", key: String = "") async throws -> Crm_Service_V1_ArticleCategory {
        try await call("CreateArticleCategory", Crm_Service_V1_CreateArticleCategoryRequest.with {
            $0.category.name = name
            $0.category.description_p = description
            $0.idempotencyKey = key
        })
    }

    public func categories(pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_ListArticleCategoriesResponse {
        try await call("ListArticleCategories", Crm_Service_V1_ListArticleCategoriesRequest.with {
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func createArticle(_ title: String, _ body: String = "", category: Int64 = 0, key: String = "") async throws -> SArticle {
        try await call("CreateArticle", Crm_Service_V1_CreateArticleRequest.with {
            $0.article.title = title
            $0.article.body = body
            $0.article.categoryID = category
            $0.idempotencyKey = key
        })
    }

    public func article(_ id: Int64) async throws -> SArticle {
        try await call("GetArticle", Crm_Service_V1_GetArticleRequest.with { $0.id = id })
    }

    public func updateArticle(_ id: Int64, title: String? = nil, body: String? = nil, category: Int64? = nil,
                              mask: [String] = [], expectedVersion: Int64 = 0) async throws -> SArticle {
        try await call("UpdateArticle", Crm_Service_V1_UpdateArticleRequest.with {
            $0.article.id = id
            if let title { $0.article.title = title }
            if let body { $0.article.body = body }
            if let category { $0.article.categoryID = category }
            $0.updateMask = mask
            $0.expectedVersion = expectedVersion
        })
    }

    public func publish(_ id: Int64, _ state: SArticleState = .published, revision: Int32 = 0, expectedVersion: Int64 = 0,
                        key: String = "") async throws -> SArticle {
        try await call("PublishArticle", Crm_Service_V1_PublishArticleRequest.with {
            $0.id = id
            $0.state = state
            $0.revision = revision
            $0.expectedVersion = expectedVersion
            $0.idempotencyKey = key
        })
    }

    public func archive(_ id: Int64, expectedVersion: Int64 = 0, key: String = "") async throws -> SArticle {
        try await call("ArchiveArticle", Crm_Service_V1_ArchiveArticleRequest.with {
            $0.id = id
            $0.expectedVersion = expectedVersion
            $0.idempotencyKey = key
        })
    }

    public func articles(category: Int64 = 0, state: SArticleState = .unspecified, pageSize: Int32 = 0,
                         token: String = "") async throws -> Crm_Service_V1_ListArticlesResponse {
        try await call("ListArticles", Crm_Service_V1_ListArticlesRequest.with {
            $0.categoryID = category
            $0.state = state
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func revisions(_ id: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_ListArticleRevisionsResponse {
        try await call("ListArticleRevisions", Crm_Service_V1_ListArticleRevisionsRequest.with {
            $0.articleID = id
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func search(_ query: String, states: [SArticleState] = [], category: Int64 = 0, pageSize: Int32 = 0, token: String = "",
                       marks: (String, String) = ("", "")) async throws -> Crm_Service_V1_SearchArticlesResponse {
        try await call("SearchArticles", Crm_Service_V1_SearchArticlesRequest.with {
            $0.query = query
            $0.states = states
            $0.categoryID = category
            $0.pageSize = pageSize
            $0.pageToken = token
            $0.highlightStart = marks.0
            $0.highlightEnd = marks.1
        })
    }

    public func suggest(_ ticket: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_SearchArticlesResponse {
        try await call("SuggestArticles", Crm_Service_V1_SuggestArticlesRequest.with {
            $0.ticketID = ticket
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }
}
