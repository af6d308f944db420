-- When each link left its repository, for the last hour (retention prunes older rows). Redis keeps the same
-- (qp:{T}:freed) so that a commit settled late from a lapsed intent does not charge again a blob its repository
-- freed after the request ended (the registry keeps a deleted manifest's layer links); written back from here when
-- Redis loses its data, so a flush no longer makes such a settlement charge it twice.
create table recent_frees (
  repository text not null,
  digest     text not null,
  freed_at   timestamptz not null,
  primary key (repository, digest)
);
create index recent_frees_repository_prefix on recent_frees (repository text_pattern_ops);
create index recent_frees_freed_at on recent_frees (freed_at);
