# Test registration. Python-based tests use ODRT_PYTHON (the venv made by tools/setup.sh).
add_executable(node_runner tests/node_runner.c)
target_compile_options(node_runner PRIVATE ${ODRT_WARN})
target_link_libraries(node_runner PRIVATE odrt)

# ONNX backend node tests: one CTest case each, materialised by tools/fixtures/make_node_tests.py
set(ODRT_NODE_TESTS_DIR "${CMAKE_SOURCE_DIR}/.cache/node_tests" CACHE PATH "Materialised ONNX node tests")
if(EXISTS "${ODRT_NODE_TESTS_DIR}/cases.txt")
  file(STRINGS "${ODRT_NODE_TESTS_DIR}/cases.txt" ODRT_NODE_CASES)
  # the cases pinned as unsupported (indented lines of tests/node_skips.txt): a skip only while unsupported
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/node_skips.txt)
  file(STRINGS "${CMAKE_SOURCE_DIR}/tests/node_skips.txt" ODRT_SKIP_LINES REGEX "^ ")
  string(REGEX REPLACE "[ \t]+" ";" ODRT_NODE_SKIPS "${ODRT_SKIP_LINES}")
  foreach(case IN LISTS ODRT_NODE_CASES)
    if(case IN_LIST ODRT_NODE_SKIPS)
      add_test(NAME node/${case} COMMAND node_runner --expect-unsupported ${ODRT_NODE_TESTS_DIR}/${case})
      set_tests_properties(node/${case} PROPERTIES SKIP_RETURN_CODE 77 LABELS node TIMEOUT 60)
    else()
      add_test(NAME node/${case} COMMAND node_runner ${ODRT_NODE_TESTS_DIR}/${case})
      set_tests_properties(node/${case} PROPERTIES LABELS node TIMEOUT 60)
    endif()
  endforeach()
else()
  message(WARNING "ONNX node tests not materialised (run tools/setup.sh); node conformance tests skipped")
  add_test(NAME node/missing COMMAND ${CMAKE_COMMAND} -E echo "node tests not materialised: run tools/setup.sh")
  set_tests_properties(node/missing PROPERTIES WILL_FAIL ON)
endif()

# Python tests (pytest) against onnxruntime / onnx, driving the odrt binary of this build
set(ODRT_PYTESTS test_layers test_profile test_inspect test_roundtrip test_run_handtrack test_malformed test_shapes test_docs test_convert test_convert_fp16 test_convert_int8 test_nms_plugins test_fixture test_engine test_engine_corrupt test_engine_int8 test_eval test_eval_segm test_compare test_efficientdet test_families test_tfjs test_graphdef test_savedmodel)
# sanitizer builds run ~10x slower: model-heavy tests take a subset of the photos there
set(ODRT_TEST_SUBSET 0)
if(ODRT_SANITIZE)
  set(ODRT_TEST_SUBSET 1)
endif()
foreach(t IN LISTS ODRT_PYTESTS)
  add_test(NAME py/${t}
           COMMAND ${ODRT_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/python/${t}.py
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/python)
  set_tests_properties(py/${t} PROPERTIES LABELS py TIMEOUT 900
    ENVIRONMENT "ODRT_BIN=$<TARGET_FILE:odrt_cli>;ODRT_SHARED_DIR=${ODRT_SHARED_DIR};ODRT_TEST_SUBSET=${ODRT_TEST_SUBSET}")
endforeach()
# every family's exports (tools/fixtures/tfod_fixtures.sh, linked by tools/setup.sh): the longest file
set_tests_properties(py/test_families PROPERTIES TIMEOUT 3000)
set_tests_properties(py/test_savedmodel PROPERTIES TIMEOUT 3000)
set_tests_properties(py/test_convert_int8 py/test_engine_int8 PROPERTIES TIMEOUT 3000)
# `cmake --install` of this build and the example against it (not in sanitizer builds: a program
# linking an ASan-instrumented shared library needs the ASan runtime first)
if(NOT ODRT_SANITIZE)
  add_test(NAME py/test_install
           COMMAND ${ODRT_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/python/test_install.py
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/python)
  set_tests_properties(py/test_install PROPERTIES LABELS py TIMEOUT 900
    ENVIRONMENT "ODRT_BIN=$<TARGET_FILE:odrt_cli>;ODRT_SHARED_DIR=${ODRT_SHARED_DIR};ODRT_BUILD_DIR=${CMAKE_BINARY_DIR}")
  # the Python package: `pip install .` into a fresh venv, then tests/package (numpy/DLPack frames,
  # threads, Triton on loopback, Ray Data) against this build's CLI; test-only dependencies from
  # .venv-pkg (tools/setup.sh)
  set(ODRT_PKG_PYTHON "${CMAKE_SOURCE_DIR}/.venv-pkg/bin/python" CACHE FILEPATH "Python with tools/fixtures/requirements-package.txt")
  add_test(NAME pkg/python COMMAND ${ODRT_PKG_PYTHON} ${CMAKE_SOURCE_DIR}/tests/package/run.py ${CMAKE_BINARY_DIR}/pkg-test -rA)
  set_tests_properties(pkg/python PROPERTIES LABELS py TIMEOUT 1800
    ENVIRONMENT "ODRT_BIN=$<TARGET_FILE:odrt_cli>;ODRT_SHARED_DIR=${ODRT_SHARED_DIR}")
endif()

# C unit tests of the IR surgery API
add_executable(test_ir tests/test_ir.c)
target_include_directories(test_ir PRIVATE src tests)
target_compile_options(test_ir PRIVATE ${ODRT_WARN})
target_link_libraries(test_ir PRIVATE odrt)
add_test(NAME unit/ir COMMAND test_ir ${CMAKE_SOURCE_DIR}/models/handtrack/handtrack.onnx)
# the same test on a model it cannot edit (no uint8 image input, no Conv) must report the failed
# check and stop, not crash on what the failure left NULL
if(EXISTS "${ODRT_NODE_TESTS_DIR}/test_relu/model.onnx")
  add_test(NAME unit/ir_fails_cleanly COMMAND test_ir ${ODRT_NODE_TESTS_DIR}/test_relu/model.onnx)
  set_tests_properties(unit/ir_fails_cleanly PROPERTIES PASS_REGULAR_EXPRESSION "FAIL [^\n]*test_ir.c:[0-9]+: [^\n]*\nFAILED")
endif()

# CUDA backend-ops harness: every CUDA op against the CPU backend (label gpu: CI has no GPU and
# skips it; on a GPU machine: ctest -L gpu, or build/test_backend_ops -v)
add_executable(test_backend_ops tests/gpu/test_backend_ops.c)
target_include_directories(test_backend_ops PRIVATE src)
target_compile_options(test_backend_ops PRIVATE ${ODRT_WARN})
target_link_libraries(test_backend_ops PRIVATE odrt)
if(ODRT_CUDA_OBJS)
  target_compile_definitions(test_backend_ops PRIVATE ODRT_HAVE_CUDA)
endif()
add_test(NAME gpu/backend_ops COMMAND test_backend_ops -v)
set_tests_properties(gpu/backend_ops PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 600)

# several threads on one engine (odrt_engine_share): a CPU engine here, a CUDA one on a GPU machine
add_executable(test_engine_threads tests/test_engine_threads.c)
target_compile_options(test_engine_threads PRIVATE ${ODRT_WARN})
target_link_libraries(test_engine_threads PRIVATE odrt Threads::Threads)
file(GLOB ODRT_SHARED_PHOTOS ${ODRT_SHARED_DIR}/images/*.jpg)
add_test(NAME unit/engine_threads_cpu COMMAND test_engine_threads ${CMAKE_SOURCE_DIR}/models/handtrack/handtrack.onnx cpu ${ODRT_SHARED_PHOTOS})
set_tests_properties(unit/engine_threads_cpu PROPERTIES TIMEOUT 600)
add_test(NAME gpu/engine_threads_cuda COMMAND test_engine_threads ${CMAKE_SOURCE_DIR}/models/handtrack/handtrack.onnx cuda:fp16 ${ODRT_SHARED_PHOTOS})
set_tests_properties(gpu/engine_threads_cuda PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 600)

# int8 1x1 convolutions of CPU engines: the packing and every int8 kernel set against the Q/DQ arithmetic
add_executable(test_int8_kernels tests/test_int8_kernels.c)
target_include_directories(test_int8_kernels PRIVATE src)
target_compile_options(test_int8_kernels PRIVATE ${ODRT_WARN})
target_link_libraries(test_int8_kernels PRIVATE odrt m)
add_test(NAME unit/int8_kernels COMMAND test_int8_kernels)

# the tiled depthwise kernels (3x3, 5x5) and the weighted sum of every float kernel set, against double arithmetic
add_executable(test_dw_kernels tests/test_dw_kernels.c)
target_include_directories(test_dw_kernels PRIVATE src)
target_compile_options(test_dw_kernels PRIVATE ${ODRT_WARN})
target_link_libraries(test_dw_kernels PRIVATE odrt m)
add_test(NAME unit/dw_kernels COMMAND test_dw_kernels)

# the CPU post-processing's two NMS walks (class by class; all classes best first) give the same detections
add_executable(test_nms_paths tests/test_nms_paths.c)
target_include_directories(test_nms_paths PRIVATE src)
target_compile_options(test_nms_paths PRIVATE ${ODRT_WARN})
target_link_libraries(test_nms_paths PRIVATE odrt m)
add_test(NAME unit/nms_paths COMMAND test_nms_paths)

# the public API's contracts (versions, struct_size, log callback, ODRT_ERR_DEVICE, static strings)
add_executable(test_api tests/test_api.c)
target_compile_options(test_api PRIVATE ${ODRT_WARN})
target_include_directories(test_api PRIVATE tests)
target_link_libraries(test_api PRIVATE odrt)
add_test(NAME unit/api COMMAND test_api ${CMAKE_SOURCE_DIR}/models/handtrack/handtrack.onnx ${CMAKE_SOURCE_DIR}/data/images/hands.jpg)

# the asynchronous API and frames by pointer: a CPU engine here, a CUDA one (frames in device
# memory too) on a GPU machine
add_executable(test_engine_async tests/test_engine_async.c)
target_compile_options(test_engine_async PRIVATE ${ODRT_WARN})
target_include_directories(test_engine_async PRIVATE tests)
target_link_libraries(test_engine_async PRIVATE odrt)
if(ODRT_CUDA_OBJS)
  target_compile_definitions(test_engine_async PRIVATE ODRT_TEST_CUDA)
  target_link_libraries(test_engine_async PRIVATE CUDA::cudart_static)
endif()
add_test(NAME unit/engine_async_cpu COMMAND test_engine_async ${CMAKE_SOURCE_DIR}/models/handtrack/handtrack.onnx cpu ${ODRT_SHARED_PHOTOS})
set_tests_properties(unit/engine_async_cpu PROPERTIES TIMEOUT 600)
add_test(NAME gpu/engine_async_cuda COMMAND test_engine_async ${CMAKE_SOURCE_DIR}/models/handtrack/handtrack.onnx cuda:fp16 ${ODRT_SHARED_PHOTOS})
set_tests_properties(gpu/engine_async_cuda PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 600)
