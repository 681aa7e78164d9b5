DROP INDEX register_parents_parent;
DROP TABLE register_parents;
DROP TABLE register_persons;
