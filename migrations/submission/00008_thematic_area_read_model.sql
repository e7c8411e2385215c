-- +goose Up
-- Thematic areas and their current co-lead countries, a read model of the
-- consultation service's reference data kept current from
-- consulta.reference.thematic_area.updated events. Who co-leads an area
-- decides who reads its confidential submissions, so the check takes the
-- co-leads from here, never from the copy a consultation event carried.
-- version is the area's version in the consultation service: an event is
-- applied only when it carries a newer one, so redelivered and reordered
-- events converge.
--
-- No rows are seeded: the events of co-lead assignments made before this
-- table existed were consumed and ignored, so an area missing here is read
-- once from the consultation service (ReferenceService) and stored with the
-- same version guard.
CREATE TABLE submission.thematic_areas (
    id               text PRIMARY KEY,
    colead_countries text[] NOT NULL,
    version          bigint NOT NULL CHECK (version > 0)
);

-- +goose Down
DROP TABLE submission.thematic_areas;
