# Test registration. Python-based tests use ODRT_PYTHON (the venv made by tools/setup.sh).
add_executable(node_runner tests/node_runner.c)
target_compile_options(node_runner PRIVATE ${ODRT_WARN})
target_link_libraries(node_runner PRIVATE odrt)

# ONNX backend node tests: one CTest case each, materialised by tools/fixtures/make_node_tests.py
set(ODRT_NODE_TESTS_DIR "${CMAKE_SOURCE_DIR}/.cache/node_tests" CACHE PATH "Materialised ONNX node tests")
if(EXISTS "${ODRT_NODE_TESTS_DIR}/cases.txt")
  file(STRINGS "${ODRT_NODE_TESTS_DIR}/cases.txt" ODRT_NODE_CASES)
  foreach(case IN LISTS ODRT_NODE_CASES)
    add_test(NAME node/${case} COMMAND node_runner ${ODRT_NODE_TESTS_DIR}/${case})
    set_tests_properties(node/${case} PROPERTIES SKIP_RETURN_CODE 77 LABELS node TIMEOUT 60)
  endforeach()
else()
  message(WARNING "ONNX node tests not materialised (run tools/setup.sh); node conformance tests skipped")
  add_test(NAME node/missing COMMAND ${CMAKE_COMMAND} -E echo "node tests not materialised: run tools/setup.sh")
  set_tests_properties(node/missing PROPERTIES WILL_FAIL ON)
endif()
