-- name: trusted_document
-- The body of a registered document, by the client's id or by its SHA-256.
select body from steward.trusted_documents where id = $1 or sha256 = $1 limit 1;

-- name: import_trusted_document
-- Register one document; the same id again replaces it only if the text is the same.
insert into steward.trusted_documents (id, sha256, body, operation_name, source)
values ($1, $2, $3, $4, $5)
on conflict (id) do update set source = excluded.source
 where trusted_documents.sha256 = excluded.sha256
returning (xmax = 0) as inserted;

-- name: trusted_documents
-- Every registered document, newest first.
select id, sha256, operation_name, source, imported_at, length(body) as bytes
  from steward.trusted_documents order by imported_at desc, id;
