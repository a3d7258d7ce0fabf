module tb;
  reg [7:0] in;
  wire [2:0] pos_ref, pos_top;
  wire valid_ref, valid_top;
  integer seed = 303, i, samples = 0, mismatches = 0;

  RefModule ref_i (.in(in), .pos(pos_ref), .valid(valid_ref));
  TopModule top_i (.in(in), .pos(pos_top), .valid(valid_top));

  task check;
    begin
      #1;
      samples = samples + 1;
      if ({pos_ref, valid_ref} !== {pos_top, valid_top}) mismatches = mismatches + 1;
    end
  endtask

  initial begin
    in = 8'd0;
    check;
    for (i = 0; i < 8; i = i + 1) begin
      in = 8'd1 << i;
      check;
      in = (8'd1 << i) | 8'd1;
      check;
    end
    for (i = 0; i < 200; i = i + 1) begin
      in = $random(seed);
      if (i % 3 == 0) in = in >> ($random(seed) & 7);
      check;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end

  initial begin
    #100000;
    $display("TIMEOUT");
    $finish;
  end
endmodule
