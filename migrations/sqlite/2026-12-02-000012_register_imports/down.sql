DROP TABLE register_imports;
