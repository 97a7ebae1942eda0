import CRMPluginKit
import ServiceContract

/// SearchArticles and SuggestArticles: the caller's visible states turned
/// into the index's filter, a page of hits, then the articles of the page.
enum ArticleSearch {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "SearchArticles", search)
        def.unary(Service.service + "SuggestArticles", suggest)
    }

    static func search(_ ctx: CallContext, _ req: Crm_Service_V1_SearchArticlesRequest) throws -> Crm_Service_V1_SearchArticlesResponse {
        let text = try SearchText.parse(req.query, field: "query")
        var asked = Set<ArticleState>()
        for (i, state) in req.states.enumerated() {
            try Check.known(state.rawValue, 1...4, "states[\(i)]")
            guard asked.insert(state).inserted else { throw PluginError.invalidArgument("states[\(i)] is repeated") }
        }
        let db = try ctx.database
        try ArticleCategories.check(db, req.categoryID, "category_id")
        let access = ArticleAccess(ctx)
        let (states, authors) = access.searchable(asked)
        return try run(db, access, text, states: states, authors: authors, category: req.categoryID,
                       pageSize: req.pageSize, pageToken: req.pageToken, marks: (req.highlightStart, req.highlightEnd))
    }

    static func suggest(_ ctx: CallContext, _ req: Crm_Service_V1_SuggestArticlesRequest) throws -> Crm_Service_V1_SearchArticlesResponse {
        let db = try ctx.database
        // The ticket as service.ticket.read lets the caller see it: no
        // suggestions reveal a ticket out of reach.
        let ticket = try TicketStore(db: db).require(req.ticketID, field: "ticket_id", readableIn: ctx.scope(for: "service.ticket.read"))
        let access = ArticleAccess(ctx)
        guard let text = SearchText.suggestions(from: ticket.subject + "\n" + ticket.description_p) else {
            return .init()
        }
        // Only live articles: a draft is no answer to send a customer.
        var states: Set<ArticleState> = [.published]
        if access.readsLive { states.insert(.internal) }
        return try run(db, access, text, states: states, authors: nil, category: 0,
                       pageSize: req.pageSize, pageToken: req.pageToken, marks: (req.highlightStart, req.highlightEnd))
    }

    private static func run(_ db: Database, _ access: ArticleAccess, _ text: SearchText, states: Set<ArticleState>,
                            authors: [String]?, category: Int64, pageSize: Int32, pageToken: String,
                            marks: (String, String)) throws -> Crm_Service_V1_SearchArticlesResponse {
        let paging = try Paging(pageSize: pageSize, pageToken: pageToken, keyCount: 2)
        for (mark, field) in [(marks.0, "highlight_start"), (marks.1, "highlight_end")] where mark.count > 16 {
            throw PluginError.invalidArgument("\(field) is longer than 16 characters")
        }
        var after: (score: Double, position: Int64)?
        if let token = paging.after {
            // The score travels as its bit pattern: exact, so the cursor
            // compares equal to the rank it came from.
            guard case .integer(let bits) = token[0], case .integer(let position) = token[1] else {
                throw PluginError.invalidArgument("page_token is not a token this list returned")
            }
            after = (Double(bitPattern: UInt64(bitPattern: bits)), position)
        }
        var response = Crm_Service_V1_SearchArticlesResponse()
        guard !states.isEmpty else { return response }
        let highlight = marks.0.isEmpty && marks.1.isEmpty ? nil : (start: marks.0, end: marks.1)
        let hits = try KnowledgeBase.index.search(db, ArticleQuery(query: text, states: states, authors: authors, categoryID: category,
                                                                   limit: paging.limit + 1, after: after, highlight: highlight))
        let (page, nextToken) = paging.page(hits) { [.integer(Int64(bitPattern: $0.score.bitPattern)), .integer($0.position)] }
        let store = ArticleStore(db: db)
        var articles: [Int64: Article] = [:]
        if !page.isEmpty {
            let marks = page.map { _ in "?" }.joined(separator: ", ")
            for row in try db.query("SELECT \(ArticleStore.columns) FROM service_kb_articles WHERE id IN (\(marks))",
                                    page.map { .integer($0.id) }) {
                let a = ArticleStore.decode(row)
                articles[a.id] = a
            }
        }
        for hit in page {
            // The index and the table change in one transaction; a row
            // missing here would be a bug, and is skipped rather than shown.
            guard let stored = articles[hit.id], access.sees(stored.state, author: stored.author) else { continue }
            var a = try store.view(stored, access)
            a.body = ""
            response.hits.append(.with {
                $0.article = a
                $0.score = hit.score
                $0.titleHighlight = hit.titleHighlight
                $0.snippet = hit.snippet
            })
        }
        response.nextPageToken = nextToken
        return response
    }
}
