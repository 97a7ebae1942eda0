import CRMPluginKit
import ServiceContract

/// Writing and reading articles; every title or body change is a revision.
enum ArticleMethods {
    static let maxTitle = 300
    static let updateMask = UpdateMask(fields: ["category_id": 2, "title": 3, "body": 4],
                                       elsewhere: ["state": "PublishArticle or ArchiveArticle"])

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "CreateArticle", create)
        def.unary(Service.service + "GetArticle", get)
        def.unary(Service.service + "UpdateArticle", update)
        def.unary(Service.service + "ListArticles", list)
        def.unary(Service.service + "ListArticleRevisions", revisions)
    }

    private static func validate(_ db: Database, _ a: inout Article) throws {
        try Check.text(&a.title, "article.title", max: maxTitle)
        try Validate.required(a.title, "article.title")
        try Validate.maxLength(a.body, "article.body", TicketValidation.maxBody)
        try ArticleCategories.check(db, a.categoryID, "article.category_id")
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateArticleRequest) throws -> Article {
        let db = try ctx.database
        let store = ArticleStore(db: db)
        let access = ArticleAccess(ctx)
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateArticle", req, key: \.idempotencyKey)
        if let id = previous {
            // Another caller's key: their article is not this caller's to see.
            guard let a = try store.load(id), access.writes(a.author) else {
                throw IdempotencyKeys.mismatch(method: "CreateArticle", key: req.idempotencyKey)
            }
            return a
        }
        var a = Article()
        a.categoryID = req.article.categoryID
        a.title = req.article.title
        a.body = req.article.body
        try validate(db, &a)
        let now = UTCClock.nowMicros()
        a.state = .draft
        a.author = ctx.user ?? ""
        a.updatedBy = a.author
        a.revision = 1
        a.latestRevision = 1
        a.version = 1
        a.createdUnixUs = now
        a.updatedUnixUs = now
        try store.insert(&a)
        try store.addRevision(a)
        try store.reindex(a)
        try ArticleAudit.article(ctx, "create", old: nil, new: a)
        try Service.idempotency.record(db, claim, resultID: a.id)
        return a
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetArticleRequest) throws -> Article {
        let store = ArticleStore(db: try ctx.database)
        let access = ArticleAccess(ctx)
        return try store.view(try store.require(req.id, "id", access), access)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateArticleRequest) throws -> Article {
        let fields = try updateMask.resolve(req.updateMask, req.article)
        let db = try ctx.database
        let store = ArticleStore(db: db)
        let access = ArticleAccess(ctx)
        let before = try store.require(req.article.id, "article.id", access)
        guard access.writes(before.author) else {
            throw PluginError(.permissionDenied, "article.id: article \(before.id) is outside your record scope")
        }
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "article \(before.id)")
        var a = before
        if fields.contains("category_id") { a.categoryID = req.article.categoryID }
        if fields.contains("title") { a.title = req.article.title }
        if fields.contains("body") { a.body = req.article.body }
        try validate(db, &a)
        guard a != before else { return a }
        let now = UTCClock.nowMicros()
        a.version += 1
        a.updatedUnixUs = now
        if a.title != before.title || a.body != before.body {
            a.revision += 1
            a.latestRevision = a.revision
            a.updatedBy = ctx.user ?? ""
            try store.addRevision(a)
        }
        try store.save(a)
        try store.reindex(a)
        try ArticleAudit.article(ctx, "update", old: before, new: a)
        return a
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListArticlesRequest) throws -> Crm_Service_V1_ListArticlesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Check.known(req.state.rawValue, 1...4, "state", optional: true)
        let db = try ctx.database
        try ArticleCategories.check(db, req.categoryID, "category_id")
        let store = ArticleStore(db: db)
        let access = ArticleAccess(ctx)
        var filter = SQLFilter()
        if req.categoryID != 0 { filter.add("category_id = ?", .integer(req.categoryID)) }
        if req.state != .unspecified { filter.add("state = ?", .integer(Int64(req.state.rawValue))) } else { filter.add("state <> 4") }
        let visible = access.condition()
        filter.add(visible.sql, visible.parameters)
        if let after = paging.after { filter.add("id > ?", try tokenInt(after[0])) }
        let page = try fetchPage(db, "SELECT \(ArticleStore.columns) FROM service_kb_articles \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: ArticleStore.decode, key: { [$0[0]] })
        var response = Crm_Service_V1_ListArticlesResponse()
        response.articles = try page.rows.map { try store.view($0, access) }
        response.nextPageToken = page.nextToken
        return response
    }

    static func revisions(_ ctx: CallContext, _ req: Crm_Service_V1_ListArticleRevisionsRequest) throws -> Crm_Service_V1_ListArticleRevisionsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let access = ArticleAccess(ctx)
        let a = try ArticleStore(db: db).require(req.articleID, "article_id", access)
        guard access.writes(a.author) else { throw ArticleStore.missing(a.id, "article_id") }
        var parameters: [SQLValue] = [.integer(a.id)]
        var condition = "article_id = ?"
        if let after = paging.after {
            condition += " AND number < ?"
            parameters.append(try tokenInt(after[0]))
        }
        let page = try fetchPage(db, """
            SELECT number, title, body, saved_by, saved_us FROM service_kb_revisions WHERE \(condition) ORDER BY number DESC LIMIT ?
            """, parameters, paging, decode: { row -> ArticleRevision in
                var r = ArticleStore.decodeRevision(a.id, row)
                r.live = r.number == a.liveRevision
                return r
            }, key: { [$0[0]] })
        var response = Crm_Service_V1_ListArticleRevisionsResponse()
        response.revisions = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
